// Settings: the member's own sign-in (TOTP on or off: a secret shown as a QR code and as
// text, confirmed with a code; turning it off takes a code too) and the team (every member
// sees it; owners invite with a role, change roles and remove, which the database checks).
import { useEffect, useState } from 'preact/hooks';
import { html } from '../html.js';
import { get, post, request } from '../api.js';
import { Alert, CheckField, Code, SelectField, Status, TextField, useAction, when } from '../ui.js';

const ROLES = ['owner', 'admin', 'developer', 'viewer'];

export function SettingsScreen({ member }) {
  return html`<main id="main" class="main">
    <h1>Settings</h1>
    <${OwnSignIn} />
    <${AuthSettings} me=${member} />
    <${Team} me=${member} />
    <${Keys} me=${member} />
  </main>`;
}

/** Keys: rotating the JWT secret (owners), and where CORS origins and the public URL are set. */
function Keys({ me }) {
  const [project, setProject] = useState(null);
  const [confirm, setConfirm] = useState('');
  const [rotated, setRotated] = useState(null);
  const { error, busy, run } = useAction();
  useEffect(() => {
    run(async () => setProject(await get('/console/api/project')));
  }, []);
  const rotate = (e) => {
    e.preventDefault();
    run(async () => {
      const answer = await post('/console/api/project/rotate-jwt-secret', { confirm: confirm.trim() });
      setRotated(answer.anon_key);
      setConfirm('');
    });
  };
  return html`<section class="card" aria-labelledby="keys">
    <h2 id="keys">Keys</h2>
    <p>The public URL is <code>${project ? project.urls.base : '…'}</code>: set it with <code>--public-url</code>
      (<code>BKND_PUBLIC_URL</code>); links in emails and OAuth callbacks use it. Browser apps on other origins are allowed
      by <code>--cors-allow-origin</code> (<code>BKND_CORS_ALLOW_ORIGIN</code>, a comma list; default <code>*</code>, since
      tokens, not cookies, decide access). Both are the sidecar's flags: restart it to change them.</p>
    ${me.role === 'owner' && html`<form onSubmit=${rotate} aria-label="Rotate the JWT secret">
      <h3>Rotate the JWT secret</h3>
      <p class="banner">What breaks: the anon and service_role keys and every access token signed with the old secret stop
        working at once. Deployed apps need the new anon key; signed-in users get new tokens with their refresh tokens;
        servers and MCP clients need a new service_role key. Console sessions go on.</p>
      <${TextField} id="rotate-confirm" label="Type rotate to confirm" value=${confirm} onInput=${setConfirm} autocomplete="off" />
      <button type="submit" class="danger" disabled=${busy || confirm.trim() !== 'rotate'}>Rotate JWT secret</button>
    </form>`}
    ${rotated && html`<div class="card"><p>The secret is new. The new anon key:</p><${Code} text=${rotated} label="new anon key" /></div>`}
    <${Alert} error=${error} />
  </section>`;
}

const SWITCHES = [
  ['autoconfirm', 'Confirm emails automatically'],
  ['disable_signup', 'Turn off new sign-ups'],
  ['secure_email_change', 'Email changes confirmed by both addresses'],
  ['secure_password_change', 'Password changes need a recent sign-in'],
];

/** Auth: the switches, the rate limits and the OAuth providers (the client secret write-only). */
function AuthSettings({ me }) {
  const [settings, setSettings] = useState(null);
  const [limits, setLimits] = useState('{}');
  const [provider, setProvider] = useState(null); // the form's fields while adding or editing
  const [testTo, setTestTo] = useState('');
  const [status, setStatus] = useState(null);
  const { error, busy, run } = useAction();
  const manager = ['owner', 'admin'].includes(me.role);
  const load = async () => {
    const s = await get('/console/api/auth-settings');
    setSettings(s);
    setLimits(JSON.stringify(s.rate_limits, null, 2));
  };
  useEffect(() => {
    run(load);
  }, []);

  const save = (e) => {
    e.preventDefault();
    run(async () => {
      let rateLimits;
      try {
        rateLimits = JSON.parse(limits || '{}');
      } catch (err) {
        throw new Error(`the rate limits are JSON: ${err.message}`);
      }
      const config = Object.fromEntries(SWITCHES.map(([key]) => [key, settings[key]]));
      config.rate_limits = rateLimits;
      await post('/console/api/auth-settings', config);
      setStatus('Auth settings saved: the auth API uses them from its next request.');
      await load();
    });
  };
  const saveProvider = (e) => {
    e.preventDefault();
    run(async () => {
      await post('/console/api/oauth-providers', provider);
      setStatus(`Provider ${provider.name} saved.`);
      setProvider(null);
      await load();
    });
  };
  const sendTest = (e) => {
    e.preventDefault();
    run(async () => {
      const sent = await post('/console/api/auth-settings/test-email', { to: testTo.trim() });
      const how = { smtp: 'through SMTP', mail_dir: 'to the mail directory (no --smtp-url)', log: "to the sidecar's log (no --smtp-url or --mail-dir)" }[sent.via];
      setStatus(`Test email sent to ${testTo.trim()} ${how}.`);
    });
  };
  const removeProvider = (name) =>
    run(async () => {
      await request('DELETE', `/console/api/oauth-providers/${encodeURIComponent(name)}`);
      setStatus(`Provider ${name} removed.`);
      await load();
    });

  if (!settings) return html`<section class="card" aria-labelledby="auth-settings"><h2 id="auth-settings">Auth</h2><${Alert} error=${error} /></section>`;
  return html`<section class="card" aria-labelledby="auth-settings">
    <h2 id="auth-settings">Auth</h2>
    ${!manager && html`<p class="hint">Admins and owners change these.</p>`}
    <${Status} text=${status} />
    <${Alert} error=${error} />
    <form onSubmit=${save}>
      ${SWITCHES.map(([key, label]) => html`<${CheckField} id=${`auth-${key}`} label=${label} checked=${settings[key]} disabled=${!manager}
        onChange=${(v) => setSettings({ ...settings, [key]: v })} />`)}
      <div class="field"><label for="auth-rate-limits">Rate limits (JSON: a limit's name and its count)</label>
        <textarea id="auth-rate-limits" class="mono" rows="3" value=${limits} disabled=${!manager}
          onInput=${(e) => setLimits(e.currentTarget.value)}></textarea></div>
      ${manager && html`<button type="submit" class="primary" disabled=${busy}>Save auth settings</button>`}
    </form>
    ${manager && html`<form class="row" onSubmit=${sendTest} aria-label="Test email">
      <${TextField} id="test-email-to" label="Test email address" type="email" value=${testTo} onInput=${setTestTo} required autocomplete="off" />
      <button type="submit" disabled=${busy}>Send test email</button>
    </form>`}
    <h3>OAuth providers</h3>
    ${settings.oauth_providers.length
      ? html`<table class="grid" aria-label="OAuth providers"><thead><tr><th>Name</th><th>Kind</th><th>Client ID</th><th>Issuer</th><th>Enabled</th>${manager && html`<th>Actions</th>`}</tr></thead>
        <tbody>${settings.oauth_providers.map((p) => html`<tr key=${p.name}>
          <td>${p.name}</td><td>${p.kind}</td><td class="mono">${p.client_id}</td><td>${p.issuer || ''}</td><td>${p.enabled ? 'yes' : 'no'}</td>
          ${manager && html`<td><button type="button" onClick=${() => setProvider({ ...p, issuer: p.issuer || '', client_secret: '' })}
              aria-label=${`Edit ${p.name}`}>Edit</button>
            <button type="button" onClick=${() => removeProvider(p.name)} aria-label=${`Remove ${p.name}`}>Remove</button></td>`}
        </tr>`)}</tbody></table>`
      : html`<p class="muted">None: users sign in by email.</p>`}
    ${manager && !provider && html`<button type="button" onClick=${() => setProvider({ name: '', kind: 'oidc', client_id: '', client_secret: '', issuer: '', enabled: true })}>Add provider</button>`}
    ${provider && html`<form class="card" onSubmit=${saveProvider} aria-label="OAuth provider">
      <div class="row">
        <${TextField} id="provider-name" label="Provider name" value=${provider.name} onInput=${(v) => setProvider({ ...provider, name: v })} required
          placeholder="github, google, okta…" />
        <${SelectField} id="provider-kind" label="Kind" value=${provider.kind} onChange=${(v) => setProvider({ ...provider, kind: v })}
          options=${[['oidc', 'OIDC (issuer)'], ['github', 'GitHub']]} />
        <${TextField} id="provider-issuer" label="Issuer" value=${provider.issuer} onInput=${(v) => setProvider({ ...provider, issuer: v })}
          placeholder="https://accounts.google.com" />
      </div>
      <div class="row">
        <${TextField} id="provider-client-id" label="Client ID" value=${provider.client_id} onInput=${(v) => setProvider({ ...provider, client_id: v })} required />
        <${TextField} id="provider-client-secret" label="Client secret" type="password" value=${provider.client_secret}
          onInput=${(v) => setProvider({ ...provider, client_secret: v })} autocomplete="off" placeholder="unchanged when empty" />
      </div>
      <${CheckField} id="provider-enabled" label="Enabled" checked=${provider.enabled} onChange=${(v) => setProvider({ ...provider, enabled: v })} />
      <p class="hint">The secret is stored in the database and never shown again. Redirect URL for the provider:
        <code>${location.origin}/auth/v1/callback</code></p>
      <div class="actions">
        <button type="submit" class="primary" disabled=${busy}>Save provider</button>
        <button type="button" onClick=${() => setProvider(null)}>Cancel</button>
      </div>
    </form>`}
  </section>`;
}

function Team({ me }) {
  const [members, setMembers] = useState(null);
  const [email, setEmail] = useState('');
  const [role, setRole] = useState('developer');
  const [invited, setInvited] = useState(null);
  const [confirm, setConfirm] = useState(null);
  const [status, setStatus] = useState(null);
  const { error, busy, run } = useAction();
  const owner = me.role === 'owner';
  const load = async () => setMembers(await get('/console/api/members'));

  useEffect(() => {
    run(load);
  }, []);

  const invite = (e) => {
    e.preventDefault();
    run(async () => {
      const answer = await post('/console/api/members', { email: email.trim(), role });
      setInvited({ email: answer.member.email, link: answer.link });
      setEmail('');
      setStatus(null);
      await load();
    });
  };
  const changeRole = (m, next) =>
    run(async () => {
      await post(`/console/api/members/${encodeURIComponent(m.id)}/role`, { role: next });
      setStatus(`${m.email} is now ${next === 'admin' ? 'an' : 'a'} ${next}.`);
      await load();
    });
  const remove = (m) =>
    run(async () => {
      await request('DELETE', `/console/api/members/${encodeURIComponent(m.id)}`);
      setConfirm(null);
      setStatus(`${m.email} is no longer a member.`);
      await load();
    });

  return html`<section aria-labelledby="team" class="card">
    <h2 id="team">Team</h2>
    <p class="hint">Owners manage members and keys; admins also the app's users and settings; developers schema, data,
      policies, storage, realtime and webhooks; viewers read.</p>
    <${Status} text=${status} />
    <${Alert} error=${error} />
    ${members && html`<table class="grid" aria-label="Members">
      <thead><tr><th>Email</th><th>Role</th><th>TOTP</th><th>Last sign-in</th>${owner && html`<th>Actions</th>`}</tr></thead>
      <tbody>${members.map((m) => html`<tr key=${m.id}>
        <td>${m.email}${m.has_password ? '' : html` <span class="badge">invited</span>`}</td>
        <td>${owner
          ? html`<label class="sr-only" for=${`role-${m.id}`}>Role for ${m.email}</label>
              <select id=${`role-${m.id}`} value=${m.role} disabled=${busy} onChange=${(e) => changeRole(m, e.currentTarget.value)}>
                ${ROLES.map((r) => html`<option value=${r} selected=${r === m.role}>${r}</option>`)}
              </select>`
          : m.role}</td>
        <td>${m.totp ? 'on' : ''}</td>
        <td>${when(m.last_sign_in_at)}</td>
        ${owner && html`<td>${confirm === m.id
          ? html`<span class="group confirm"><span>Remove ${m.email}?</span>
              <button type="button" class="danger" disabled=${busy} onClick=${() => remove(m)}>Confirm remove</button>
              <button type="button" onClick=${() => setConfirm(null)}>Cancel</button></span>`
          : html`<button type="button" aria-label=${`Remove ${m.email}`} onClick=${() => setConfirm(m.id)}>Remove</button>`}</td>`}
      </tr>`)}</tbody>
    </table>`}
    ${owner && html`<form onSubmit=${invite} aria-label="Invite member">
      <h3>Invite member</h3>
      <div class="row">
        <${TextField} id="invite-email" label="Member email" type="email" value=${email} onInput=${setEmail} required autocomplete="off" />
        <${SelectField} id="invite-role" label="Member role" value=${role} onChange=${setRole} options=${ROLES} />
        <button type="submit" class="primary" disabled=${busy}>Invite</button>
      </div>
    </form>`}
    ${invited && html`<div class="card">
      <p>Send this link to <strong>${invited.email}</strong>: it sets their password, once, within 24 hours.</p>
      <${Code} text=${invited.link} label="invitation link" />
    </div>`}
  </section>`;
}

function OwnSignIn() {
  const [member, setMember] = useState(null);
  const [setup, setSetup] = useState(null); // {secret, uri, qr_code} while setting up
  const [code, setCode] = useState('');
  const [status, setStatus] = useState(null);
  const { error, busy, run } = useAction();

  useEffect(() => {
    run(async () => setMember((await get('/console/api/session')).member));
  }, []);

  const begin = () =>
    run(async () => {
      setStatus(null);
      setSetup(await post('/console/api/totp/begin', {}));
      setCode('');
    });
  const finish = (on) => (e) => {
    e.preventDefault();
    run(async () => {
      const answer = await post(`/console/api/totp/${on ? 'enable' : 'disable'}`, { code: code.trim() });
      setMember(answer.member);
      setSetup(null);
      setCode('');
      setStatus(on ? 'TOTP is on: signing in now asks for a code.' : 'TOTP is off: signing in takes your password only.');
    });
  };

  if (!member) return html`<section aria-labelledby="own-sign-in"><h2 id="own-sign-in">Your sign-in</h2><${Alert} error=${error} /></section>`;
  return html`<section aria-labelledby="own-sign-in" class="card">
    <h2 id="own-sign-in">Your sign-in</h2>
    <p>Signed in as <strong>${member.email}</strong> (${member.role}).
      Two-factor sign-in (TOTP): <strong>${member.totp ? 'on' : 'off'}</strong>.</p>
    <${Status} text=${status} />
    ${!member.totp && !setup && html`<button type="button" onClick=${begin} disabled=${busy}>Set up TOTP</button>`}
    ${!member.totp && setup && html`<form onSubmit=${finish(true)}>
      <p>Scan this with an authenticator app (or enter the secret by hand), then type the code it shows.</p>
      <img class="qr" alt="TOTP QR code" src=${`data:image/svg+xml;utf-8,${encodeURIComponent(setup.qr_code)}`} width="200" height="200" />
      <p>Secret: <code class="mono" aria-label="TOTP secret">${setup.secret}</code></p>
      <${TextField} id="totp-code" label="Code" value=${code} onInput=${setCode} inputmode="numeric" autocomplete="one-time-code" required />
      <button type="submit" class="primary" disabled=${busy}>Turn on TOTP</button>
      <button type="button" onClick=${() => setSetup(null)}>Cancel</button>
    </form>`}
    ${member.totp && html`<form onSubmit=${finish(false)}>
      <${TextField} id="totp-code" label="Code" value=${code} onInput=${setCode} inputmode="numeric" autocomplete="one-time-code" required />
      <button type="submit" disabled=${busy}>Turn off TOTP</button>
    </form>`}
    <${Alert} error=${error} />
  </section>`;
}

// Settings: the member's own sign-in (TOTP on or off: a secret shown as a QR code and as
// text, confirmed with a code; turning it off takes a code too) and the team (every member
// sees it; owners invite with a role, change roles and remove, which the database checks).
import { useEffect, useState } from 'preact/hooks';
import { html } from '../html.js';
import { get, post, request } from '../api.js';
import { Alert, Code, SelectField, Status, TextField, useAction, when } from '../ui.js';

const ROLES = ['owner', 'admin', 'developer', 'viewer'];

export function SettingsScreen({ member }) {
  return html`<main id="main" class="main">
    <h1>Settings</h1>
    <${OwnSignIn} />
    <${Team} me=${member} />
  </main>`;
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

// Settings. For now the member's own sign-in: TOTP on or off (a secret shown as a QR code and
// as text, confirmed with a code; turning it off takes a code too). Auth, team and keys
// settings come with console part 2.
import { useEffect, useState } from 'preact/hooks';
import { html } from '../html.js';
import { get, post } from '../api.js';
import { Alert, Status, TextField, useAction } from '../ui.js';

export function SettingsScreen() {
  return html`<main id="main" class="main">
    <h1>Settings</h1>
    <${OwnSignIn} />
  </main>`;
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

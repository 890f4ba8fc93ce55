// Signing in, and setting a password through a one-time link (/console/set-password#token=...).
import { useState } from 'preact/hooks';
import { html } from '../html.js';
import { post } from '../api.js';
import { navigate } from '../router.js';
import { Alert, Status, useAction } from '../ui.js';

export function SignIn({ notice, onSignedIn }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  // shown once the server says this member signs in with TOTP too
  const [askCode, setAskCode] = useState(false);
  const [code, setCode] = useState('');
  const { error, setError, busy, run } = useAction();

  const submit = (e) => {
    e.preventDefault();
    run(async () => {
      try {
        const answer = await post('/console/api/sign-in', askCode ? { email, password, code } : { email, password });
        onSignedIn(answer.member);
      } catch (err) {
        if (err.code === 'totp_required') {
          setAskCode(true);
          setError(null);
          return;
        }
        throw err;
      }
    });
  };

  return html`<main class="center">
    <form class="card auth" onSubmit=${submit}>
      <h1>bknd console</h1>
      <${Status} text=${notice} />
      <div class="field">
        <label for="signin-email">Email</label>
        <input id="signin-email" type="email" autocomplete="username" required value=${email}
          onInput=${(e) => setEmail(e.currentTarget.value)} />
      </div>
      <div class="field">
        <label for="signin-password">Password</label>
        <input id="signin-password" type="password" autocomplete="current-password" required value=${password}
          onInput=${(e) => setPassword(e.currentTarget.value)} />
      </div>
      ${askCode && html`<div class="field">
        <label for="signin-code">Code</label>
        <input id="signin-code" type="text" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" maxlength="6" required
          value=${code} onInput=${(e) => setCode(e.currentTarget.value)} autofocus />
        <p class="muted small">The 6-digit code from your authenticator app.</p>
      </div>`}
      <${Alert} error=${error} />
      <button type="submit" class="primary" disabled=${busy}>Sign in</button>
    </form>
  </main>`;
}

/** The token is in the fragment (never sent to a server); it is taken out of the address at once. */
function takeToken() {
  const params = new URLSearchParams(location.hash.replace(/^#/, ''));
  const token = params.get('token');
  if (token) history.replaceState(null, '', location.pathname);
  return token;
}

export function SetPassword({ onDone }) {
  const [token] = useState(takeToken);
  const [password, setPassword] = useState('');
  const { error, busy, run } = useAction();

  const submit = (e) => {
    e.preventDefault();
    run(async () => {
      const answer = await post('/console/api/set-password', { token, password });
      onDone(answer && answer.member && answer.member.email);
      navigate('/console/', { replace: true });
    });
  };

  return html`<main class="center">
    <form class="card auth" onSubmit=${submit}>
      <h1>Set your password</h1>
      ${!token && html`<${Alert} error="This page needs the link you were sent (it ends in #token=...)." />`}
      <div class="field">
        <label for="new-password">New password</label>
        <input id="new-password" type="password" autocomplete="new-password" required value=${password}
          onInput=${(e) => setPassword(e.currentTarget.value)} />
      </div>
      <${Alert} error=${error} />
      <button type="submit" class="primary" disabled=${busy || !token}>Set password</button>
    </form>
  </main>`;
}

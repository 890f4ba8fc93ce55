// The app: the set-password page, the sign-in form, or the shell with its screens, by session.
import { useEffect, useState } from 'preact/hooks';
import { html } from './html.js';
import { get, onSignedOut } from './api.js';
import { usePath } from './router.js';
import { SignIn, SetPassword } from './screens/signin.js';
import { Shell } from './shell.js';

export function App() {
  const path = usePath();
  // undefined: asking; null: signed out; else {id, email, role}
  const [member, setMember] = useState(undefined);
  const [notice, setNotice] = useState(null);

  useEffect(() => {
    onSignedOut(() => {
      setNotice('Your session has ended. Sign in again.');
      setMember(null);
    });
    get('/console/api/session')
      .then((answer) => setMember(answer.member))
      .catch(() => setMember(null));
  }, []);

  if (path === '/console/set-password' || path === '/console/set-password/') {
    return html`<${SetPassword} onDone=${(email) => setNotice(email ? `Password set for ${email}. Sign in.` : 'Password set. Sign in.')} />`;
  }
  if (member === undefined) return html`<main class="center"><p>Loading…</p></main>`;
  if (member === null) {
    return html`<${SignIn} notice=${notice} onSignedIn=${(m) => {
      setNotice(null);
      setMember(m);
    }} />`;
  }
  return html`<${Shell} member=${member} path=${path} onSignedOut=${() => setMember(null)} />`;
}

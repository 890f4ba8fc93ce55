// The console's entry point. Auth links that land on / (and so on /console/) belong to the
// welcome page: #access_token=..., #error=..., #message=... (an email change) and PKCE's ?code=;
// everything else is the app.
import { render } from 'preact';
import { html } from './html.js';
import { App } from './app.js';

const path = location.pathname;
const landing = /[#&](access_token|error|error_description|message)=/.test(location.hash) || /[?&](code|error)=/.test(location.search);
if (landing && (path === '/console/' || path === '/console')) {
  location.replace(`/welcome${location.search}${location.hash}`);
} else {
  render(html`<${App} />`, document.getElementById('app'));
}

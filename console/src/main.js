// The console's entry point. Auth email links (#access_token=... or #error=...) that land on
// /console/ belong to the welcome page; everything else is the app.
import { render } from 'preact';
import { html } from './html.js';
import { App } from './app.js';

const path = location.pathname;
if (/[#&](access_token|error)=/.test(location.hash) && (path === '/console/' || path === '/console')) {
  location.replace(`/welcome${location.hash}`);
} else {
  render(html`<${App} />`, document.getElementById('app'));
}

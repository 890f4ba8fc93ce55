// The signed-in layout: the left navigation, who is signed in, and the screen for the path.
import { useEffect } from 'preact/hooks';
import { html } from './html.js';
import { post } from './api.js';
import { Link, navigate, parts } from './router.js';
import { TablesScreen } from './screens/tables.js';
import { SqlScreen } from './screens/sql.js';
import { ApiScreen } from './screens/apikeys.js';
import { WebhooksScreen } from './screens/webhooks.js';
import { SettingsScreen } from './screens/settings.js';
import { UsersScreen } from './screens/users.js';
import { LogsScreen } from './screens/logs.js';
import { HomeScreen } from './screens/home.js';
import { StorageScreen } from './screens/storage.js';

const NAV = [
  ['Tables', '/console/tables', 'tables'],
  ['SQL', '/console/sql', 'sql'],
  ['Users', '/console/users', 'users'],
  ['Storage', '/console/storage', 'storage'],
  ['Webhooks', '/console/webhooks', 'webhooks'],
  ['Logs', '/console/logs', 'logs'],
  ['Settings', '/console/settings', 'settings'],
  ['API', '/console/api-keys', 'api-keys'],
];

function screenFor(section, rest, member) {
  switch (section) {
    case 'home':
      return html`<${HomeScreen} />`;
    case 'tables':
      return html`<${TablesScreen} table=${rest[0]} tab=${rest[1] || 'data'} member=${member} />`;
    case 'sql':
      return html`<${SqlScreen} member=${member} />`;
    case 'webhooks':
      return html`<${WebhooksScreen} />`;
    case 'api-keys':
      return html`<${ApiScreen} />`;
    case 'settings':
      return html`<${SettingsScreen} member=${member} />`;
    case 'users':
      return html`<${UsersScreen} />`;
    case 'logs':
      return html`<${LogsScreen} member=${member} />`;
    case 'storage':
      return html`<${StorageScreen} bucket=${rest[0]} folder=${rest.slice(1)} />`;
    default:
      return html`<main id="main" class="main"><h1>Not found</h1><p>No console page is at this address.</p></main>`;
  }
}

export function Shell({ member, path, onSignedOut }) {
  const [section, ...rest] = parts(path);

  useEffect(() => {
    if (!section) navigate('/console/home', { replace: true });
  }, [section]);

  useEffect(() => {
    const label = NAV.find((n) => n[2] === section);
    document.title = label ? `${rest[0] ? `${rest[0]} · ` : ''}${label[0]} · bknd console` : 'bknd console';
  }, [path]);

  const signOut = async () => {
    try {
      await post('/console/api/sign-out', {});
    } finally {
      onSignedOut();
    }
  };

  return html`<div class="layout">
    <a class="skip" href="#main">Skip to content</a>
    <nav class="sidebar" aria-label="Console">
      <div class="brand"><${Link} href="/console/home" aria-current=${section === 'home' ? 'page' : undefined}>bknd<//></div>
      <ul>
        ${NAV.map(([label, href, key]) => html`<li key=${key}>
          <${Link} href=${href} aria-current=${section === key ? 'page' : undefined}>${label}<//>
        </li>`)}
      </ul>
      <div class="who">
        <div class="email" title=${member.email}>${member.email}</div>
        <div class="role">${member.role}</div>
        <button type="button" onClick=${signOut}>Sign out</button>
      </div>
    </nav>
    ${section ? screenFor(section, rest, member) : null}
  </div>`;
}

// Users: the app's users in keyset pages (newest first) with an email-prefix search; add one
// (with a password, or without for a sign-in by link or OAuth), and per user: confirm, ban and
// unban, sign out everywhere, remove MFA factors, edit metadata, delete; their identities,
// sessions and audit trail. The database decides what a member may do (admins and owners
// change users).
import { useEffect, useState } from 'preact/hooks';
import { html } from '../html.js';
import { get, post, request } from '../api.js';
import { Alert, CheckField, Status, TextField, useAction, when } from '../ui.js';

const PAGE = 50;

function usersPath(search, after) {
  const q = new URLSearchParams({ limit: String(PAGE) });
  if (search) q.set('search', search);
  if (after) q.set('after', after);
  return `/console/api/users?${q}`;
}

export function UsersScreen() {
  const [search, setSearch] = useState('');
  const [applied, setApplied] = useState('');
  const [cursors, setCursors] = useState([null]);
  const [page, setPage] = useState(null);
  const [adding, setAdding] = useState(false);
  const [open, setOpen] = useState(null); // a user's id
  const [status, setStatus] = useState(null);
  const [tick, setTick] = useState(0);
  const { error, busy, run } = useAction();

  useEffect(() => {
    run(async () => setPage(await get(usersPath(applied, cursors[cursors.length - 1]))));
  }, [applied, cursors, tick]);

  const find = (e) => {
    e.preventDefault();
    setApplied(search.trim());
    setCursors([null]);
  };
  const changed = (text) => {
    setStatus(text);
    setTick((t) => t + 1);
  };

  return html`<main id="main" class="main users">
    <h1>Users</h1>
    <${Alert} error=${error} />
    <${Status} text=${status} />
    <div class="toolbar">
      <button type="button" class="primary" onClick=${() => setAdding(true)}>Add user</button>
      <form class="group grow" role="search" onSubmit=${find}>
        <label for="user-search">Search users</label>
        <input id="user-search" type="search" placeholder="Email starts with… or a user id" value=${search}
          onInput=${(e) => setSearch(e.currentTarget.value)} autocomplete="off" />
        <button type="submit">Search</button>
      </form>
      <span class="muted total">${page ? `about ${page.estimate} users` : ''}</span>
    </div>
    ${adding && html`<${AddUser} onCancel=${() => setAdding(false)} onDone=${(user, how) => {
      setAdding(false);
      setCursors([null]);
      changed(how === 'invited' ? `User ${user.email} invited: a link to choose a password is on its way.` : `User ${user.email} created.`);
    }} />`}
    ${page && html`<div class="grid-wrap"><table class="grid" aria-label="Users">
      <thead><tr><th>Email</th><th>Created</th><th>Last sign-in</th><th>Confirmed</th><th>Banned</th><th>MFA</th><th>Providers</th></tr></thead>
      <tbody>
        ${page.users.map((u) => html`<tr key=${u.id}>
          <td><button type="button" class="link" aria-expanded=${open === u.id} onClick=${() => setOpen(open === u.id ? null : u.id)}>${u.email || (u.is_anonymous ? '(anonymous)' : u.id)}</button></td>
          <td>${when(u.created_at)}</td>
          <td>${when(u.last_sign_in_at)}</td>
          <td>${u.email_confirmed_at ? 'yes' : 'no'}</td>
          <td>${banned(u) ? 'banned' : ''}</td>
          <td>${u.mfa ? 'yes' : ''}</td>
          <td>${(u.providers || []).join(', ')}</td>
        </tr>`)}
        ${page.users.length === 0 && html`<tr><td colspan="7" class="muted">No users${applied ? ` whose email starts with ${applied}` : ''}.</td></tr>`}
      </tbody>
    </table></div>
    <div class="toolbar">
      <button type="button" disabled=${cursors.length < 2 || busy} onClick=${() => setCursors(cursors.slice(0, -1))}>Previous page</button>
      <button type="button" disabled=${!page.next || busy} onClick=${() => setCursors([...cursors, page.next])}>Next page</button>
    </div>`}
    ${open && html`<${UserDetail} id=${open} key=${`${open}-${tick}`} onChanged=${changed} onGone=${(text) => {
      setOpen(null);
      changed(text);
    }} />`}
  </main>`;
}

const banned = (u) => u.banned_until && new Date(u.banned_until) > new Date();

function AddUser({ onCancel, onDone }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [confirmed, setConfirmed] = useState(true);
  const { error, busy, run } = useAction();
  const submit = (e) => {
    e.preventDefault();
    run(async () => onDone(await post('/console/api/users', { email: email.trim(), password, email_confirm: confirmed })));
  };
  // no password: the user gets a one-time link that signs them in at the app to choose one
  const invite = () => run(async () => onDone((await post('/console/api/users/invite', { email: email.trim() })).user, 'invited'));
  return html`<form class="card" onSubmit=${submit} aria-label="Add user">
    <h2>Add user</h2>
    <div class="row">
      <${TextField} id="new-user-email" label="Email" type="email" value=${email} onInput=${setEmail} required autocomplete="off" />
      <${TextField} id="new-user-password" label="Password" type="password" value=${password} onInput=${setPassword} autocomplete="new-password" />
    </div>
    <p class="hint">Without a password the user signs in by email link, code or OAuth; Invite by email mails them a link to choose one.</p>
    <${CheckField} id="new-user-confirmed" label="Email confirmed" checked=${confirmed} onChange=${setConfirmed} />
    <${Alert} error=${error} />
    <div class="actions">
      <button type="submit" class="primary" disabled=${busy}>Create user</button>
      <button type="button" disabled=${busy || !email.trim()} onClick=${invite}>Invite by email</button>
      <button type="button" onClick=${onCancel}>Cancel</button>
    </div>
  </form>`;
}

function UserDetail({ id, onChanged, onGone }) {
  const [detail, setDetail] = useState(null);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const [meta, setMeta] = useState(null);
  const { error, busy, run } = useAction();
  const base = `/console/api/users/${encodeURIComponent(id)}`;

  useEffect(() => {
    run(async () => {
      const d = await get(base);
      setDetail(d);
      setMeta({ app: JSON.stringify(d.user.app_metadata || {}, null, 2), user: JSON.stringify(d.user.user_metadata || {}, null, 2) });
    });
  }, [id]);

  const act = (action, done, body = {}) => run(async () => {
    await post(`${base}/${action}`, body);
    onChanged(done);
  });
  const remove = () => run(async () => {
    await request('DELETE', base);
    onGone(`User ${detail.user.email || id} deleted.`);
  });
  const saveMeta = (e) => {
    e.preventDefault();
    let app;
    let user;
    try {
      app = JSON.parse(meta.app);
      user = JSON.parse(meta.user);
    } catch (err) {
      run(async () => {
        throw new Error(`metadata is JSON: ${err.message}`);
      });
      return;
    }
    act('metadata', 'Metadata saved.', { app_metadata: app, user_metadata: user });
  };

  if (!detail) return html`<section class="card"><${Alert} error=${error} /></section>`;
  const u = detail.user;
  const isBanned = u.banned_until && new Date(u.banned_until) > new Date();
  return html`<section class="card" aria-labelledby="user-detail">
    <h2 id="user-detail">${u.email || u.id}</h2>
    <p class="muted small">id <code>${u.id}</code> · role ${u.role} · created ${when(u.created_at)}
      ${isBanned ? html` · <strong>banned</strong>` : ''}</p>
    <${Alert} error=${error} />
    <div class="actions">
      ${!u.email_confirmed_at && html`<button type="button" disabled=${busy} onClick=${() => act('confirm', 'Email confirmed.')}>Confirm email</button>`}
      ${isBanned
        ? html`<button type="button" disabled=${busy} onClick=${() => act('unban', 'User unbanned.')}>Unban</button>`
        : html`<button type="button" disabled=${busy} onClick=${() => act('ban', 'User banned: their sessions ended.')}>Ban</button>`}
      <button type="button" disabled=${busy} onClick=${() => act('sign-out', 'Every session of the user ended.')}>Sign out everywhere</button>
      ${detail.factors.length > 0 && html`<button type="button" disabled=${busy} onClick=${() => act('remove-factors', 'MFA factors removed.')}>Remove MFA factors</button>`}
      <button type="button" class="danger" disabled=${busy} onClick=${() => setConfirmDelete(true)}>Delete</button>
      ${confirmDelete && html`<span class="group confirm">
        <span>Delete ${u.email || 'this user'} and all their sessions?</span>
        <button type="button" class="danger" disabled=${busy} onClick=${remove}>Confirm delete</button>
        <button type="button" onClick=${() => setConfirmDelete(false)}>Cancel</button>
      </span>`}
    </div>
    <h3>Identities</h3>
    ${detail.identities.length ? html`<ul>${detail.identities.map((i) => html`<li>${i.provider}: ${i.provider_id} (last sign-in ${when(i.last_sign_in_at) || 'never'})</li>`)}</ul>` : html`<p class="muted">None.</p>`}
    <h3>Sessions</h3>
    ${detail.sessions.length ? html`<ul>${detail.sessions.map((s) => html`<li>${when(s.created_at)} · ${s.aal} · ${s.ip || 'no address'} · ${s.user_agent || ''}</li>`)}</ul>` : html`<p class="muted">None.</p>`}
    <h3>MFA factors</h3>
    ${detail.factors.length ? html`<ul>${detail.factors.map((f) => html`<li>${f.factor_type} ${f.friendly_name || ''} (${f.status})</li>`)}</ul>` : html`<p class="muted">None.</p>`}
    <form onSubmit=${saveMeta}>
      <h3>Metadata</h3>
      <div class="row">
        <div class="field grow"><label for="meta-app">App metadata</label>
          <textarea id="meta-app" class="mono" rows="4" value=${meta.app} onInput=${(e) => setMeta({ ...meta, app: e.currentTarget.value })}></textarea></div>
        <div class="field grow"><label for="meta-user">User metadata</label>
          <textarea id="meta-user" class="mono" rows="4" value=${meta.user} onInput=${(e) => setMeta({ ...meta, user: e.currentTarget.value })}></textarea></div>
      </div>
      <button type="submit" disabled=${busy}>Save metadata</button>
    </form>
    <h3>Audit trail</h3>
    ${detail.audit.length ? html`<table class="grid" aria-label="Audit trail"><thead><tr><th>When</th><th>Action</th><th>Address</th></tr></thead>
      <tbody>${detail.audit.map((a) => html`<tr><td>${when(a.at)}</td><td>${a.action}</td><td>${a.ip || ''}</td></tr>`)}</tbody></table>`
      : html`<p class="muted">Nothing yet.</p>`}
  </section>`;
}

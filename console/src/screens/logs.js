// Logs: the auth audit log, the schema history, webhook deliveries and (for admins and
// owners) the console members' actions; newest first in pages of 100, filtered by time, who
// and what. Each entry's detail opens in place.
import { useEffect, useState } from 'preact/hooks';
import { html } from '../html.js';
import { get } from '../api.js';
import { Alert, SelectField, TextField, useAction, when } from '../ui.js';

const LOGS = [
  ['auth', 'Auth events'],
  ['schema', 'Schema changes'],
  ['webhooks', 'Webhook deliveries'],
  ['console', 'Console members'],
];
const ACTOR = { auth: 'User email or id', schema: 'Who (console:EMAIL or a role)', webhooks: 'Webhook name', console: 'Member email' };

/** A datetime-local value (the browser's time) as an ISO time with its offset, or ''. */
function isoOf(local) {
  if (!local) return '';
  const d = new Date(local);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}

export function LogsScreen({ member }) {
  const [log, setLog] = useState('auth');
  const [form, setForm] = useState({ since: '', until: '', actor: '', action: '' });
  const [filters, setFilters] = useState(form);
  const [cursors, setCursors] = useState([null]);
  const [page, setPage] = useState(null);
  const [open, setOpen] = useState(null);
  const { error, busy, run } = useAction();
  const choices = LOGS.filter(([key]) => key !== 'console' || ['owner', 'admin'].includes(member.role));

  useEffect(() => {
    const q = new URLSearchParams({ log, limit: '100' });
    const before = cursors[cursors.length - 1];
    if (before) q.set('before', String(before));
    if (filters.since) q.set('since', isoOf(filters.since));
    if (filters.until) q.set('until', isoOf(filters.until));
    if (filters.actor.trim()) q.set('actor', filters.actor.trim());
    if (filters.action.trim()) q.set('action', filters.action.trim());
    setPage(null);
    run(async () => setPage(await get(`/console/api/logs?${q}`)));
  }, [log, filters, cursors]);

  const apply = (e) => {
    e.preventDefault();
    setFilters({ ...form });
    setCursors([null]);
  };

  return html`<main id="main" class="main logs">
    <h1>Logs</h1>
    <form class="row" onSubmit=${apply} aria-label="Log filters">
      <${SelectField} id="log-kind" label="Log" value=${log} options=${choices}
        onChange=${(v) => { setLog(v); setCursors([null]); setOpen(null); }} />
      <div class="field"><label for="log-since">From</label>
        <input id="log-since" type="datetime-local" value=${form.since} onInput=${(e) => setForm({ ...form, since: e.currentTarget.value })} /></div>
      <div class="field"><label for="log-until">Until</label>
        <input id="log-until" type="datetime-local" value=${form.until} onInput=${(e) => setForm({ ...form, until: e.currentTarget.value })} /></div>
      <${TextField} id="log-actor" label=${ACTOR[log]} value=${form.actor} onInput=${(v) => setForm({ ...form, actor: v })} autocomplete="off" />
      <${TextField} id="log-action" label="Action" value=${form.action} onInput=${(v) => setForm({ ...form, action: v })} autocomplete="off" />
      <button type="submit">Apply filters</button>
    </form>
    <${Alert} error=${error} />
    ${page && html`<div class="grid-wrap"><table class="grid" aria-label="Log entries">
      <thead><tr><th>When</th><th>Action</th><th>Who</th><th>On</th><th>Detail</th></tr></thead>
      <tbody>
        ${page.entries.map((e) => html`<tr key=${e.id}>
          <td>${when(e.at)}</td>
          <td>${e.action}</td>
          <td>${e.actor || ''}${e.role ? ` (${e.role})` : ''}</td>
          <td>${e.target || e.ip || ''}</td>
          <td>${open === e.id
            ? html`<pre class="mono small detail">${JSON.stringify(e.detail, null, 2)}</pre>
                <button type="button" class="link" onClick=${() => setOpen(null)}>Hide</button>`
            : html`<button type="button" class="link" onClick=${() => setOpen(e.id)}>Show</button>`}</td>
        </tr>`)}
        ${page.entries.length === 0 && html`<tr><td colspan="5" class="muted">Nothing logged${filters.since || filters.until || filters.actor || filters.action ? ' that matches' : ''}.</td></tr>`}
      </tbody>
    </table></div>
    <div class="toolbar">
      <button type="button" disabled=${cursors.length < 2 || busy} onClick=${() => setCursors(cursors.slice(0, -1))}>Newer</button>
      <button type="button" disabled=${!page.next || busy} onClick=${() => setCursors([...cursors, page.next])}>Older</button>
    </div>`}
  </main>`;
}

// Webhooks: the endpoints (list_webhooks), a new one (its signing secret shown once), a test
// event, and the delivery log with resend.
import { useEffect, useState } from 'preact/hooks';
import { html } from '../html.js';
import { tool } from '../api.js';
import { qualified } from '../types.js';
import { Alert, CheckField, Code, SelectField, Status, TextField, useAction, when } from '../ui.js';

const OTHER_EVENTS = ['user.created', 'user.signed_in', 'user.updated', 'user.deleted', 'object.created', 'object.deleted'];
const OPERATIONS = ['insert', 'update', 'delete'];

export function WebhooksScreen() {
  const [hooks, setHooks] = useState(null);
  const [deliveries, setDeliveries] = useState(null);
  const [only, setOnly] = useState('');
  const [creating, setCreating] = useState(false);
  const [secret, setSecret] = useState(null);
  const [status, setStatus] = useState(null);
  const [confirm, setConfirm] = useState(null);
  const { error, busy, run } = useAction();

  const load = () =>
    run(async () => {
      setHooks((await tool('list_webhooks')) || []);
      setDeliveries((await tool('list_webhook_deliveries', { ...(only ? { name: only } : {}), limit: 50 })) || []);
    });
  useEffect(() => {
    load();
  }, [only]);

  const act = (fn, done) =>
    run(async () => {
      setStatus(null);
      await fn();
      setStatus(done);
      setHooks((await tool('list_webhooks')) || []);
      setDeliveries((await tool('list_webhook_deliveries', { ...(only ? { name: only } : {}), limit: 50 })) || []);
    });

  return html`<main id="main" class="main webhooks">
    <h1>Webhooks</h1>
    <p class="hint">bknd calls your URL when rows change, users sign up or in, or files are uploaded or deleted, signed as Standard Webhooks.</p>
    <${Alert} error=${error} />
    <${Status} text=${status} />
    ${secret && html`<div class="card">
      <p>The signing secret of <strong>${secret.name}</strong>. It is shown only now: keep it where your receiver reads it.</p>
      <${Code} text=${secret.secret} label="signing secret" />
      <button type="button" class="small" onClick=${() => setSecret(null)}>Done</button>
    </div>`}
    ${creating
      ? html`<${NewWebhook} busy=${busy} onCancel=${() => setCreating(false)} onSave=${(args) => run(async () => {
          const created = await tool('create_webhook', args);
          setCreating(false);
          setSecret({ name: created.name, secret: created.secret });
          setHooks((await tool('list_webhooks')) || []);
        })} />`
      : html`<button type="button" class="primary" onClick=${() => setCreating(true)}>New webhook</button>`}

    <h2>Endpoints</h2>
    ${hooks && hooks.length === 0 && html`<p class="muted">No webhooks yet.</p>`}
    ${hooks && hooks.length > 0 && html`<table class="list">
      <thead><tr><th scope="col">Name</th><th scope="col">URL</th><th scope="col">Events</th><th scope="col">State</th><th scope="col">Pending</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
      <tbody>${hooks.map((w) => html`<tr key=${w.id}>
        <td><strong>${w.name}</strong></td>
        <td class="mono">${w.url}</td>
        <td class="mono small">${(w.events || []).join(', ')}</td>
        <td>${w.enabled ? 'enabled' : `disabled${w.disabled_reason ? `: ${w.disabled_reason}` : ''}`}</td>
        <td>${w.pending}</td>
        <td class="row-actions">
          <button type="button" class="small" disabled=${busy} onClick=${() => act(() => tool('test_webhook', { name: w.name }), `A test event is on its way to ${w.name}.`)}>Send test</button>
          <button type="button" class="small" onClick=${() => setOnly(w.name)}>Deliveries</button>
          <button type="button" class="small" disabled=${busy}
            onClick=${() => act(() => tool('update_webhook', { name: w.name, changes: { enabled: !w.enabled } }), `${w.name} ${w.enabled ? 'disabled' : 'enabled'}.`)}>
            ${w.enabled ? 'Disable' : 'Enable'}</button>
          ${confirm === w.name
            ? html`<button type="button" class="small danger" disabled=${busy}
                onClick=${() => act(() => tool('delete_webhook', { name: w.name }), `${w.name} deleted.`).then(() => setConfirm(null))}>Confirm delete</button>
                <button type="button" class="small" onClick=${() => setConfirm(null)}>Cancel</button>`
            : html`<button type="button" class="small" onClick=${() => setConfirm(w.name)}>Delete</button>`}
        </td>
      </tr>`)}</tbody>
    </table>`}

    <h2>Deliveries</h2>
    <div class="toolbar">
      <${SelectField} id="deliveries-of" label="Webhook" value=${only} onChange=${setOnly}
        options=${[['', 'all'], ...(hooks || []).map((w) => w.name)]} />
      <button type="button" onClick=${load} disabled=${busy}>Refresh</button>
    </div>
    ${deliveries && deliveries.length === 0 && html`<p class="muted">No deliveries.</p>`}
    ${deliveries && deliveries.length > 0 && html`<div class="grid-wrap"><table class="list">
      <thead><tr><th scope="col">Event</th><th scope="col">Webhook</th><th scope="col">Status</th><th scope="col">Attempts</th>
        <th scope="col">Last answer</th><th scope="col">Created</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
      <tbody>${deliveries.map((d) => html`<tr key=${d.id}>
        <td class="mono">${d.event_type}</td>
        <td>${d.webhook}</td>
        <td><span class=${`badge ${d.status}`}>${d.status}</span>${d.next_attempt_at && d.status === 'failed' ? html` <span class="muted small">next ${when(d.next_attempt_at)}</span>` : ''}</td>
        <td>${d.attempts}</td>
        <td class="small">${d.last_status ?? ''}${d.last_error ? ` ${d.last_error}` : ''}${d.latency_ms != null ? ` (${d.latency_ms} ms)` : ''}</td>
        <td class="small">${when(d.created_at)}</td>
        <td><button type="button" class="small" disabled=${busy}
          onClick=${() => act(() => tool('resend_webhook_delivery', { delivery_id: d.id }), `Delivery ${d.id} sent again.`)}>Resend</button></td>
      </tr>`)}</tbody>
    </table></div>`}
  </main>`;
}

function NewWebhook({ busy, onSave, onCancel }) {
  const [name, setName] = useState('');
  const [url, setUrl] = useState('https://');
  const [tables, setTables] = useState([]);
  const [chosen, setChosen] = useState([]);
  const [ops, setOps] = useState(['insert', 'update', 'delete']);
  const [others, setOthers] = useState([]);
  const [format, setFormat] = useState('standard');
  const [error, setError] = useState(null);

  useEffect(() => {
    tool('list_tables')
      .then((list) => setTables((list || []).map(qualified)))
      .catch(setError);
  }, []);

  const flip = (list, set, item, on) => set(on ? [...list, item] : list.filter((x) => x !== item));
  const submit = (e) => {
    e.preventDefault();
    const events = [...chosen.flatMap((t) => (ops.length === 3 ? [`${t}.*`] : ops.map((o) => `${t}.${o}`))), ...others];
    if (!name.trim()) return setError('give the webhook a name');
    if (!events.length) return setError('choose at least one event: a table and an operation, or a user or file event');
    setError(null);
    onSave({ name: name.trim(), url: url.trim(), events, options: format === 'standard' ? {} : { format } });
  };

  return html`<form class="card" onSubmit=${submit} aria-label="New webhook">
    <div class="row">
      <${TextField} id="wh-name" label="Name" value=${name} onInput=${setName} placeholder="orders" autocomplete="off" />
      <${TextField} id="wh-url" label="URL" type="url" value=${url} onInput=${setUrl} class="grow" />
      <${SelectField} id="wh-format" label="Format" value=${format} onChange=${setFormat}
        options=${[['standard', 'Standard Webhooks'], ['supabase', 'Supabase database webhook']]} />
    </div>
    <fieldset>
      <legend>Tables</legend>
      ${tables.length === 0 && html`<p class="muted small">No tables.</p>`}
      <div class="row">${tables.map((t) => html`<${CheckField} key=${t} id=${`wh-t-${t}`} label=${t} checked=${chosen.includes(t)}
        onChange=${(on) => flip(chosen, setChosen, t, on)} />`)}</div>
    </fieldset>
    <fieldset>
      <legend>Row events</legend>
      <div class="row">${OPERATIONS.map((o) => html`<${CheckField} key=${o} id=${`wh-op-${o}`} label=${o} checked=${ops.includes(o)}
        onChange=${(on) => flip(ops, setOps, o, on)} />`)}</div>
    </fieldset>
    <fieldset>
      <legend>Other events</legend>
      <div class="row">${OTHER_EVENTS.map((ev) => html`<${CheckField} key=${ev} id=${`wh-ev-${ev}`} label=${ev} checked=${others.includes(ev)}
        onChange=${(on) => flip(others, setOthers, ev, on)} />`)}</div>
    </fieldset>
    <${Alert} error=${error} />
    <div class="actions">
      <button type="submit" class="primary" disabled=${busy}>Create webhook</button>
      <button type="button" onClick=${onCancel}>Cancel</button>
    </div>
  </form>`;
}

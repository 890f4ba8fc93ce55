// Tables: the list (estimated rows from the planner, never a count), the new-table form, and
// the selected table's view.
import { useEffect, useState } from 'preact/hooks';
import { html } from '../html.js';
import { tool } from '../api.js';
import { Link, navigate, tablePath } from '../router.js';
import { qualified } from '../types.js';
import { Alert, CheckField, SelectField, TextField, useAction } from '../ui.js';
import { ColumnFields, columnSpec, emptyColumn } from './columnform.js';
import { TableView } from './table.js';
import { PolicyOverview } from './policies.js';

export function TablesScreen({ table, tab, member }) {
  const [tables, setTables] = useState(null);
  const [creating, setCreating] = useState(false);
  const { error, run } = useAction();

  const load = () => run(async () => setTables((await tool('list_tables')) || []));
  // again on each table opened: the estimates move as rows are written
  useEffect(() => {
    load();
  }, [table]);
  useEffect(() => {
    if (table) setCreating(false);
  }, [table]);

  const names = (tables || []).map(qualified);
  const startNew = () => {
    setCreating(true);
    if (table) navigate('/console/tables');
  };

  return html`<div class="split">
    <aside class="panel" aria-label="Tables">
      <div class="panel-head">
        <h2>Tables</h2>
        <button type="button" class="primary small" onClick=${startNew}>New table</button>
      </div>
      ${tables === null && !error && html`<p class="muted">Loading…</p>`}
      ${tables && tables.length === 0 && html`<p class="muted">No tables yet.</p>`}
      <ul class="table-list">
        ${(tables || []).map((t) => {
          const name = qualified(t);
          return html`<li key=${name}>
            <${Link} href=${tablePath(name)} aria-current=${name === table ? 'page' : undefined}>${name}<//>
            <span class="muted small" title="estimated by the planner">${t.rows_estimate} rows</span>
          </li>`;
        })}
      </ul>
    </aside>
    <main id="main" class="main">
      <${Alert} error=${error} />
      ${creating && !table
        ? html`<${NewTableForm} tables=${names} onCancel=${() => setCreating(false)} onCreated=${(name) => {
            setCreating(false);
            load();
            navigate(tablePath(name));
          }} />`
        : table
          ? html`<${TableView} key=${table} table=${table} tab=${tab} tables=${names} member=${member} onChanged=${load} />`
          : html`<h1>Tables</h1><p class="muted">Choose a table, or create one with New table.</p>
              ${tables && html`<${PolicyOverview} tables=${names} />`}`}
    </main>
  </div>`;
}

function NewTableForm({ tables, onCreated, onCancel }) {
  const [name, setName] = useState('');
  const [columns, setColumns] = useState([emptyColumn()]);
  const [id, setId] = useState('uuid');
  const [owner, setOwner] = useState(true);
  const [timestamps, setTimestamps] = useState(true);
  const [description, setDescription] = useState('');
  const { error, busy, run } = useAction();

  const submit = (e) => {
    e.preventDefault();
    run(async () => {
      const table = name.trim();
      if (!table) throw new Error('the table needs a name');
      const specs = columns.filter((c) => c.name.trim() !== '').map(columnSpec);
      const options = {};
      if (id !== 'uuid') options.id = id === 'none' ? false : id;
      if (!owner) options.owner = false;
      if (!timestamps) options.timestamps = false;
      if (description.trim()) options.description = description.trim();
      await tool('create_table', { table, columns: specs, options });
      onCreated(table);
    });
  };

  return html`<form class="card" onSubmit=${submit} aria-labelledby="new-table-title">
    <h1 id="new-table-title">New table</h1>
    <div class="row">
      <${TextField} id="nt-name" label="Table name" value=${name} onInput=${setName} autocomplete="off" spellcheck="false" maxlength="48" />
      <${SelectField} id="nt-id" label="Primary key" value=${id} onChange=${setId}
        options=${[['uuid', 'id uuid'], ['bigint', 'id bigint (identity)'], ['none', 'none']]} />
      <${TextField} id="nt-desc" label="Table description" value=${description} onInput=${setDescription} />
    </div>
    <div class="row">
      <${CheckField} id="nt-owner" label="Owner column (owner_id)" checked=${owner} onChange=${setOwner} />
      <${CheckField} id="nt-ts" label="Timestamps (created_at, updated_at)" checked=${timestamps} onChange=${setTimestamps} />
    </div>
    <h2>Columns</h2>
    <ol class="columns">
      ${columns.map((col, i) => html`<li key=${i}>
        <${ColumnFields} col=${col} tables=${tables} prefix=${`nt-col${i}`}
          onChange=${(c) => setColumns(columns.map((x, j) => (j === i ? c : x)))} />
        ${columns.length > 1 && html`<button type="button" class="small" onClick=${() => setColumns(columns.filter((_, j) => j !== i))}>
          Remove column</button>`}
      </li>`)}
    </ol>
    <${Alert} error=${error} />
    <div class="actions">
      <button type="button" onClick=${() => setColumns([...columns, emptyColumn()])}>Add column</button>
      <button type="submit" class="primary" disabled=${busy}>Create table</button>
      <button type="button" onClick=${onCancel}>Cancel</button>
    </div>
  </form>`;
}

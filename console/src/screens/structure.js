// A table's structure: realtime, columns (add, rename, drop), relations, indexes, checks, and
// dropping the table (confirmed by typing its name). All through the bknd.* tools.
import { useEffect, useState } from 'preact/hooks';
import { html } from '../html.js';
import { tool } from '../api.js';
import { navigate } from '../router.js';
import { ON_DELETE } from '../types.js';
import { Alert, CheckField, SelectField, Status, TextField, useAction } from '../ui.js';
import { ColumnFields, columnSpec, emptyColumn } from './columnform.js';

export function StructureTab({ table, desc, tables, onChanged }) {
  const { error, busy, run } = useAction();
  const [status, setStatus] = useState(null);
  const [open, setOpen] = useState(null); // 'column' | 'relation' | 'index' | 'drop' | ['rename'|'dropcol', name]
  const act = (fn, done) =>
    run(async () => {
      setStatus(null);
      await fn();
      setOpen(null);
      setStatus(done);
      onChanged();
      return true;
    });
  const pk = desc.primary_key || [];
  // the box follows the click at once; the description (reloaded after the change) has the last word
  const [realtime, setRealtime] = useState(!!desc.realtime);
  useEffect(() => setRealtime(!!desc.realtime), [desc]);

  return html`<div class="structure">
    <${Alert} error=${error} />
    <${Status} text=${status} />
    <section>
      <${CheckField} id="realtime" label="Publish changes (realtime)" checked=${realtime} disabled=${busy}
        onChange=${(on) => {
          setRealtime(on);
          act(() => tool(on ? 'enable_realtime' : 'disable_realtime', { table }),
            on ? 'Changes are published to realtime subscribers.' : 'Changes are no longer published.').then((ok) => ok || setRealtime(!on));
        }} />
      <p class="hint">Subscribers receive only the rows their policies let them read. RLS is ${desc.rls_enabled ? 'on' : 'off'}.</p>
    </section>

    <section>
      <h2>Columns</h2>
      <table class="list">
        <thead><tr><th scope="col">Name</th><th scope="col">Type</th><th scope="col">Nullable</th><th scope="col">Default</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
        <tbody>${desc.columns.map((c) => html`<tr key=${c.name}>
          <td><strong>${c.name}</strong>${pk.includes(c.name) ? html` <span class="badge">primary key</span>` : ''}
            ${c.description && html`<div class="hint">${c.description}</div>`}</td>
          <td class="mono">${c.type}</td>
          <td>${c.nullable ? 'yes' : 'no'}</td>
          <td class="mono">${c.identity ? 'identity' : c.default || ''}</td>
          <td class="row-actions">${columnActions(c)}</td>
        </tr>`)}</tbody>
      </table>
      ${open === 'column'
        ? html`<${AddColumn} tables=${tables} busy=${busy} onCancel=${() => setOpen(null)}
            onSave=${(spec) => act(async () => {
              const { name, ...rest } = spec;
              await tool('add_column', { table, column: name, spec: rest });
            }, `Column ${spec.name} added.`)} />`
        : html`<button type="button" onClick=${() => setOpen('column')}>Add column</button>`}
    </section>

    <section>
      <h2>Relations</h2>
      ${desc.foreign_keys.length === 0 && html`<p class="muted">No foreign keys.</p>`}
      <ul>${desc.foreign_keys.map((f) => html`<li key=${f.name} class="mono">
        ${f.columns.join(', ')} → ${f.references.schema === 'public' ? '' : `${f.references.schema}.`}${f.references.table}
        (${f.references.columns.join(', ')}) on delete ${f.on_delete}</li>`)}</ul>
      ${open === 'relation'
        ? html`<${AddRelation} table=${table} tables=${tables} busy=${busy} onCancel=${() => setOpen(null)}
            onSave=${(args) => act(() => tool('create_relation', args), 'Relation created.')} />`
        : html`<button type="button" onClick=${() => setOpen('relation')}>Add relation</button>`}
    </section>

    <section>
      <h2>Indexes</h2>
      <ul>${desc.indexes.map((i) => html`<li key=${i.name} class="mono">${i.definition}</li>`)}</ul>
      ${open === 'index'
        ? html`<${AddIndex} columns=${desc.columns.map((c) => c.name)} busy=${busy} onCancel=${() => setOpen(null)}
            onSave=${(args) => act(() => tool('create_index', { table, ...args }), 'Index created.')} />`
        : html`<button type="button" onClick=${() => setOpen('index')}>Add index</button>`}
    </section>

    ${desc.checks.length > 0 && html`<section>
      <h2>Constraints</h2>
      <ul>${desc.checks.map((c) => html`<li key=${c.name} class="mono">${c.name}: ${c.definition}</li>`)}</ul>
    </section>`}

    <section class="danger-zone">
      <h2>Drop table</h2>
      ${open === 'drop'
        ? html`<${DropTable} table=${table} busy=${busy} onCancel=${() => setOpen(null)}
            onDrop=${(cascade) => run(async () => {
              await tool('drop_table', { table, cascade });
              onChanged();
              navigate('/console/tables');
            })} />`
        : html`<button type="button" class="danger" onClick=${() => setOpen('drop')}>Drop table</button>`}
    </section>
  </div>`;

  function columnActions(c) {
    if (Array.isArray(open) && open[1] === c.name && open[0] === 'rename') {
      return html`<${Rename} column=${c.name} busy=${busy} onCancel=${() => setOpen(null)}
        onSave=${(newName) => act(() => tool('rename_column', { table, column: c.name, new_name: newName }), `Column ${c.name} renamed to ${newName}.`)} />`;
    }
    if (Array.isArray(open) && open[1] === c.name && open[0] === 'dropcol') {
      return html`<span class="group"><span>Drop ${c.name} and its data?</span>
        <button type="button" class="danger small" disabled=${busy}
          onClick=${() => act(() => tool('drop_column', { table, column: c.name }), `Column ${c.name} dropped.`)}>Confirm drop</button>
        <button type="button" class="small" onClick=${() => setOpen(null)}>Cancel</button></span>`;
    }
    return html`<button type="button" class="small" onClick=${() => setOpen(['rename', c.name])}>Rename</button>
      <button type="button" class="small" disabled=${pk.includes(c.name)} onClick=${() => setOpen(['dropcol', c.name])}>Drop</button>`;
  }
}

function AddColumn({ tables, busy, onSave, onCancel }) {
  const [col, setCol] = useState(emptyColumn);
  const [error, setError] = useState(null);
  const submit = (e) => {
    e.preventDefault();
    try {
      setError(null);
      onSave(columnSpec(col));
    } catch (err) {
      setError(err);
    }
  };
  return html`<form class="card" onSubmit=${submit} aria-label="Add column">
    <${ColumnFields} col=${col} onChange=${setCol} tables=${tables} prefix="add-col" />
    <${Alert} error=${error} />
    <div class="actions">
      <button type="submit" class="primary" disabled=${busy}>Save</button>
      <button type="button" onClick=${onCancel}>Cancel</button>
    </div>
  </form>`;
}

function Rename({ column, busy, onSave, onCancel }) {
  const [name, setName] = useState(column);
  const submit = (e) => {
    e.preventDefault();
    if (name.trim() && name.trim() !== column) onSave(name.trim());
  };
  return html`<form class="group" onSubmit=${submit}>
    <label for=${`rename-${column}`} class="sr-only">New name</label>
    <input id=${`rename-${column}`} type="text" value=${name} onInput=${(e) => setName(e.currentTarget.value)} spellcheck="false" />
    <button type="submit" class="small primary" disabled=${busy}>Save</button>
    <button type="button" class="small" onClick=${onCancel}>Cancel</button>
  </form>`;
}

function AddRelation({ table, tables, busy, onSave, onCancel }) {
  const [to, setTo] = useState(tables.find((t) => t !== table) || tables[0] || '');
  const [kind, setKind] = useState('many_to_one');
  const [onDelete, setOnDelete] = useState('');
  const [column, setColumn] = useState('');
  const [junction, setJunction] = useState('');
  const [required, setRequired] = useState(false);
  const submit = (e) => {
    e.preventDefault();
    const options = {};
    if (kind === 'many_to_many') {
      if (junction.trim()) options.junction = junction.trim();
    } else {
      if (column.trim()) options.column = column.trim();
      if (onDelete) options.on_delete = onDelete;
      if (required) options.required = true;
    }
    onSave({ from_table: table, to_table: to, kind, options });
  };
  return html`<form class="card" onSubmit=${submit} aria-label="Add relation">
    <div class="row">
      <${SelectField} id="rel-kind" label="Kind" value=${kind} onChange=${setKind}
        options=${[['many_to_one', 'many-to-one'], ['one_to_one', 'one-to-one'], ['many_to_many', 'many-to-many']]} />
      <${SelectField} id="rel-to" label="Related table" value=${to} onChange=${setTo} options=${tables} />
      ${kind === 'many_to_many'
        ? html`<${TextField} id="rel-junction" label="Junction table" value=${junction} onInput=${setJunction}
            placeholder=${`${table.split('.').pop()}_${to.split('.').pop()}`} />`
        : html`<${TextField} id="rel-column" label="Column" value=${column} onInput=${setColumn} placeholder=${`${to.split('.').pop()}_id`} />
            <${SelectField} id="rel-ondelete" label="On delete" value=${onDelete} onChange=${setOnDelete} options=${ON_DELETE} />
            <${CheckField} id="rel-required" label="Required" checked=${required} onChange=${setRequired} />`}
    </div>
    <p class="hint">${kind === 'many_to_many'
      ? `A junction table with a composite primary key relates rows of ${table} and ${to}.`
      : `Adds a column to ${table} that references ${to}'s primary key${kind === 'one_to_one' ? ', unique' : ''}.`}</p>
    <div class="actions">
      <button type="submit" class="primary" disabled=${busy || !to}>Create relation</button>
      <button type="button" onClick=${onCancel}>Cancel</button>
    </div>
  </form>`;
}

function AddIndex({ columns, busy, onSave, onCancel }) {
  const [chosen, setChosen] = useState([]);
  const [unique, setUnique] = useState(false);
  const [method, setMethod] = useState('btree');
  const toggle = (c, on) => setChosen(on ? [...chosen, c] : chosen.filter((x) => x !== c));
  const submit = (e) => {
    e.preventDefault();
    if (chosen.length) onSave({ columns: chosen, unique, method });
  };
  return html`<form class="card" onSubmit=${submit} aria-label="Add index">
    <fieldset>
      <legend>Index columns, in the order chosen</legend>
      <div class="row">${columns.map((c) => html`<${CheckField} key=${c} id=${`idx-${c}`} label=${c} checked=${chosen.includes(c)}
        onChange=${(on) => toggle(c, on)} />`)}</div>
    </fieldset>
    <div class="row">
      <${SelectField} id="idx-method" label="Method" value=${method} onChange=${setMethod} options=${['btree', 'hash', 'gin', 'gist', 'brin']} />
      <${CheckField} id="idx-unique" label="Unique index" checked=${unique} onChange=${setUnique} disabled=${method !== 'btree'} />
    </div>
    <div class="actions">
      <button type="submit" class="primary" disabled=${busy || !chosen.length}>Create index</button>
      <button type="button" onClick=${onCancel}>Cancel</button>
    </div>
  </form>`;
}

function DropTable({ table, busy, onDrop, onCancel }) {
  const [typed, setTyped] = useState('');
  const [cascade, setCascade] = useState(false);
  const submit = (e) => {
    e.preventDefault();
    if (typed === table) onDrop(cascade);
  };
  return html`<form class="card" onSubmit=${submit}>
    <p>This deletes <strong>${table}</strong> and all its rows. Type the table's name to confirm.</p>
    <div class="row">
      <${TextField} id="drop-confirm" label="Confirm table name" value=${typed} onInput=${setTyped} autocomplete="off" spellcheck="false" />
      <${CheckField} id="drop-cascade" label="Also drop what depends on it (cascade)" checked=${cascade} onChange=${setCascade} />
    </div>
    <div class="actions">
      <button type="submit" class="danger" disabled=${busy || typed !== table}>Drop table</button>
      <button type="button" onClick=${onCancel}>Cancel</button>
    </div>
  </form>`;
}

// The data grid: keyset pages of 100 through the REST API (order by the primary key, or by a
// column with the key as tie-breaker), the planner's estimate as the total (never count(*)),
// PostgREST filters, View as (the same RLS as every surface), insert / edit / delete, bulk
// delete, export and import.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { html } from '../html.js';
import { rest } from '../api.js';
import { enumValues, foreignKeys, kindOf, primaryKey } from '../types.js';
import { Alert, Cell, Status, useAction } from '../ui.js';
import { RowForm } from './rowform.js';
import { ExportButtons, ImportCsv } from './transfer.js';

const PAGE = 100;
const RESERVED = ['select', 'order', 'limit', 'offset', 'columns', 'on_conflict'];

/** A value inside a PostgREST logic tree or in.(): always double-quoted. */
const quote = (v) => `"${String(v).replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

/** The filter box (title=eq.hello&price=lt.10) as query parameters; throws when it does not parse. */
function parseFilter(text) {
  const params = new URLSearchParams(text.trim().replace(/^\?/, ''));
  for (const [key, value] of params) {
    if (!key || RESERVED.includes(key)) throw new Error(`the filter takes column=operator.value pairs, not ${key || 'an empty name'}`);
    if (!/^(not\.)?[a-z]+(\([^)]*\))?\./.test(value) && !/^(not\.)?(or|and)$/.test(key)) {
      throw new Error(`${key}=${value}: a filter is column=operator.value, such as title=eq.hello`);
    }
  }
  return params;
}

/**
 * One page's query. `cursor` is where the previous page ended ({value, key} for keyset,
 * {offset} without a single-column primary key), null for the first page.
 */
function pageQuery({ filter, sort, pk, columns, cursor, limit }) {
  const q = new URLSearchParams(filter);
  q.set('select', '*');
  const tie = pk || columns[0];
  if (sort) q.set('order', pk ? `${sort.column}.${sort.desc ? 'desc' : 'asc'}.nullslast,${pk}.asc` : `${sort.column}.${sort.desc ? 'desc' : 'asc'}.nullslast`);
  else if (tie) q.set('order', `${tie}.asc`);
  if (cursor && pk) {
    if (!sort) q.append(pk, `gt.${cursor.key}`);
    else if (cursor.value === null) q.append('and', `(${sort.column}.is.null,${pk}.gt.${quote(cursor.key)})`);
    else {
      const op = sort.desc ? 'lt' : 'gt';
      const v = quote(cursor.value);
      q.append('and', `(or(${sort.column}.${op}.${v},${sort.column}.is.null,and(${sort.column}.eq.${v},${pk}.gt.${quote(cursor.key)})))`);
    }
  } else if (cursor) q.set('offset', String(cursor.offset));
  q.set('limit', String(limit));
  return q;
}

function cursorAfter(rows, { sort, pk }, previous) {
  const last = rows[rows.length - 1];
  if (!pk) return { offset: ((previous && previous.offset) || 0) + rows.length };
  return { key: last[pk], value: sort ? (last[sort.column] ?? null) : null };
}

function ViewAs({ viewAs, setViewAs }) {
  const kind = viewAs.startsWith('user:') ? 'user' : viewAs.startsWith('role:') ? 'role' : viewAs || 'member';
  const [choice, setChoice] = useState(kind);
  const [email, setEmail] = useState(kind === 'user' ? viewAs.slice(5) : '');
  const [role, setRole] = useState(kind === 'role' ? viewAs.slice(5) : '');
  const change = (value) => {
    setChoice(value);
    if (value === 'member') setViewAs('');
    else if (value === 'anon' || value === 'authenticated') setViewAs(value);
  };
  const apply = (e) => {
    e.preventDefault();
    if (choice === 'user' && email.trim()) setViewAs(`user:${email.trim()}`);
    if (choice === 'role' && role.trim()) setViewAs(`role:${role.trim()}`);
  };
  return html`<form class="group" onSubmit=${apply}>
    <label for="view-as">View as</label>
    <select id="view-as" value=${choice} onChange=${(e) => change(e.currentTarget.value)}>
      <option value="member" selected=${choice === 'member'}>Member (no RLS)</option>
      <option value="anon" selected=${choice === 'anon'}>anon</option>
      <option value="authenticated" selected=${choice === 'authenticated'}>authenticated</option>
      <option value="role" selected=${choice === 'role'}>Role…</option>
      <option value="user" selected=${choice === 'user'}>User…</option>
    </select>
    ${choice === 'user' && html`
      <label for="view-as-email" class="sr-only">User email</label>
      <input id="view-as-email" type="email" placeholder="User email" value=${email} onInput=${(e) => setEmail(e.currentTarget.value)} />
      <button type="submit">Apply</button>`}
    ${choice === 'role' && html`
      <label for="view-as-role" class="sr-only">Role name</label>
      <input id="view-as-role" type="text" class="mono" placeholder="Role name" value=${role} onInput=${(e) => setRole(e.currentTarget.value)}
        spellcheck="false" autocomplete="off" />
      <button type="submit">Apply</button>`}
  </form>`;
}

export function DataTab({ table, desc }) {
  const columns = useMemo(() => desc.columns.map((c) => c.name), [desc]);
  const pk = primaryKey(desc);
  const enums = useMemo(() => enumValues(desc), [desc]);
  const fks = useMemo(() => foreignKeys(desc), [desc]);
  const [viewAs, setViewAs] = useState('');
  const [filterText, setFilterText] = useState('');
  const [filter, setFilter] = useState(new URLSearchParams());
  const [sort, setSort] = useState(null);
  const [cursors, setCursors] = useState([null]);
  const [tick, setTick] = useState(0);
  const [page, setPage] = useState({ rows: null, more: false });
  const [total, setTotal] = useState(null);
  const [selected, setSelected] = useState(() => new Set());
  const [form, setForm] = useState(null); // null | {row} (edit) | {} (insert)
  const [confirm, setConfirm] = useState(null); // a row's key, or 'bulk'
  const [status, setStatus] = useState(null);
  const { error, setError, busy, run } = useAction();
  const latest = useRef(0);
  const readOnly = viewAs !== '';
  const state = { filter, sort, pk, columns };

  // a change of view, filter or order starts again at the first page
  const restart = () => {
    setCursors([null]);
    setSelected(new Set());
  };

  useEffect(() => {
    const n = ++latest.current;
    const cursor = cursors[cursors.length - 1];
    const first = cursors.length === 1;
    setError(null);
    rest('GET', table, { query: pageQuery({ ...state, cursor, limit: PAGE + 1 }), viewAs: viewAs || undefined, count: first })
      .then(({ rows, total: t }) => {
        if (n !== latest.current) return;
        setPage({ rows: rows.slice(0, PAGE), more: rows.length > PAGE });
        if (first) setTotal(t);
      })
      .catch((e) => n === latest.current && (setError(e), setPage({ rows: [], more: false })));
  }, [cursors, tick, viewAs, filter, sort, table]);

  const rows = page.rows;
  const keyOf = (row) => (pk ? String(row[pk]) : null);

  const applyFilter = (e) => {
    e.preventDefault();
    try {
      setFilter(parseFilter(filterText));
      restart();
    } catch (err) {
      setError(err);
    }
  };

  const sortBy = (column) => {
    setSort(sort && sort.column === column ? (sort.desc ? null : { column, desc: true }) : { column, desc: false });
    restart();
  };

  const save = (values) =>
    run(async () => {
      const changes = values();
      if (form.row) {
        if (!Object.keys(changes).length) {
          setForm(null);
          return;
        }
        const query = new URLSearchParams({ [pk]: `eq.${form.row[pk]}` });
        const { rows: changed } = await rest('PATCH', table, { query, body: changes, prefer: ['return=representation'] });
        if (!changed || !changed.length) throw new Error('no row was changed: it is gone, or a policy hides it');
        setStatus('Row saved.');
        setForm(null);
        setTick((t) => t + 1);
      } else {
        await rest('POST', table, { body: changes, prefer: ['return=representation'] });
        setStatus('Row inserted.');
        setForm(null);
        restart();
      }
    });

  const remove = (keys) =>
    run(async () => {
      const query = new URLSearchParams({ [pk]: keys.length === 1 ? `eq.${keys[0]}` : `in.(${keys.map(quote).join(',')})` });
      const { rows: gone } = await rest('DELETE', table, { query, prefer: ['return=representation'] });
      const count = gone ? gone.length : 0;
      if (!count) throw new Error('no row was deleted: it is gone, or a policy hides it');
      setStatus(count === 1 ? 'Row deleted.' : `${count} rows deleted.`);
      setConfirm(null);
      setSelected(new Set());
      if (rows.length === count && cursors.length > 1) setCursors(cursors.slice(0, -1));
      else setTick((t) => t + 1);
    });

  const toggle = (key) => {
    const next = new Set(selected);
    if (next.has(key)) next.delete(key);
    else next.add(key);
    setSelected(next);
  };
  const allKeys = rows && pk ? rows.map(keyOf) : [];
  const allSelected = allKeys.length > 0 && allKeys.every((k) => selected.has(k));
  const sortable = (c) => !['json', 'array'].includes(kindOf(c.type));
  const who = viewAs.startsWith('user:') ? viewAs.slice(5) : viewAs;

  return html`<div class="data">
    <div class="toolbar">
      <${ViewAs} viewAs=${viewAs} setViewAs=${(v) => {
        setViewAs(v);
        setForm(null);
        restart();
      }} />
      <form class="group grow" onSubmit=${applyFilter}>
        <label for="filter">Filter</label>
        <input id="filter" type="text" class="mono" placeholder="title=eq.hello&price=lt.10" value=${filterText}
          onInput=${(e) => setFilterText(e.currentTarget.value)} spellcheck="false" autocomplete="off" />
        <button type="submit">Apply filter</button>
      </form>
    </div>
    ${readOnly && html`<p class="banner" role="status">Viewing as <strong>${who}</strong>: the rows ${who} may read, under the
      table's policies. Editing is off while you view as someone else.</p>`}
    <div class="toolbar">
      <button type="button" class="primary" disabled=${readOnly} onClick=${() => { setForm({}); setStatus(null); }}>Insert row</button>
      <button type="button" disabled=${readOnly || !selected.size || !pk} onClick=${() => setConfirm('bulk')}>Delete selected</button>
      ${confirm === 'bulk' && html`<span class="group confirm">
        <span>Delete ${selected.size} rows?</span>
        <button type="button" class="danger" disabled=${busy} onClick=${() => remove([...selected])}>Confirm delete</button>
        <button type="button" onClick=${() => setConfirm(null)}>Cancel</button>
      </span>`}
      <${ExportButtons} table=${table} filter=${filter} viewAs=${viewAs} run=${run} busy=${busy} />
      <${ImportCsv} table=${table} desc=${desc} disabled=${readOnly} onDone=${restart} />
      <span class="muted total">${total !== null ? `about ${total} rows` : ''}</span>
    </div>
    <${Alert} error=${error} onClose=${() => setError(null)} />
    <${Status} text=${status} />
    ${form && html`<${RowForm} key=${form.row ? keyOf(form.row) : 'new'} desc=${desc} enums=${enums} fks=${fks} row=${form.row}
      busy=${busy} onSubmit=${save} onCancel=${() => setForm(null)} />`}
    ${!pk && html`<p class="muted small">This table has no single-column primary key: rows can be inserted but not edited or deleted here.</p>`}
    <div class="grid-wrap">
      <table class="grid" aria-label=${`${table} rows`}>
        <thead><tr>
          <th scope="col" class="narrow">${pk && html`<input type="checkbox" aria-label="Select all rows" checked=${allSelected}
            disabled=${readOnly || !allKeys.length} onChange=${() => setSelected(allSelected ? new Set() : new Set(allKeys))} />`}</th>
          ${desc.columns.map((c) => {
            const dir = sort && sort.column === c.name ? (sort.desc ? 'descending' : 'ascending') : undefined;
            return html`<th key=${c.name} scope="col" aria-sort=${dir} title=${c.type}>${sortable(c)
              ? html`<button type="button" class="sort" onClick=${() => sortBy(c.name)}>${c.name}</button>`
              : c.name}</th>`;
          })}
          <th scope="col"><span class="sr-only">Actions</span></th>
        </tr></thead>
        <tbody>
          ${rows && rows.map((row, i) => {
            const key = keyOf(row);
            return html`<tr key=${key ?? i} class=${key !== null && selected.has(key) ? 'selected' : ''}>
              <td class="narrow">${pk && html`<input type="checkbox" aria-label=${`Select row ${key}`} checked=${selected.has(key)}
                disabled=${readOnly} onChange=${() => toggle(key)} />`}</td>
              ${columns.map((c) => html`<td key=${c}><${Cell} value=${row[c]} /></td>`)}
              <td class="row-actions">${confirm === key && key !== null
                ? html`<button type="button" class="danger small" disabled=${busy} onClick=${() => remove([key])}>Confirm delete</button>
                    <button type="button" class="small" onClick=${() => setConfirm(null)}>Cancel</button>`
                : html`<button type="button" class="small" disabled=${readOnly || !pk} onClick=${() => { setForm({ row }); setStatus(null); }}>Edit</button>
                    <button type="button" class="small" disabled=${readOnly || !pk} onClick=${() => setConfirm(key)}>Delete</button>`}
              </td>
            </tr>`;
          })}
        </tbody>
      </table>
      ${rows && rows.length === 0 && html`<p class="muted empty">No rows${readOnly ? ` that ${who} may read` : ''}.</p>`}
      ${rows === null && html`<p class="muted empty">Loading…</p>`}
    </div>
    <div class="pager">
      <button type="button" disabled=${cursors.length < 2} onClick=${() => setCursors(cursors.slice(0, -1))}>Previous page</button>
      <span class="muted">Page ${cursors.length}</span>
      <button type="button" disabled=${!page.more} onClick=${() => setCursors([...cursors, cursorAfter(rows, state, cursors[cursors.length - 1])])}>Next page</button>
    </div>
  </div>`;
}

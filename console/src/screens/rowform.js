// Insert and edit a row: one input per column that fits its type (checkbox for booleans, a
// select for enums and references, a JSON textarea, date and date-time inputs, number inputs),
// labelled with the column name. Only the fields changed are sent, so defaults still apply.
import { useEffect, useState } from 'preact/hooks';
import { html } from '../html.js';
import { rest } from '../api.js';
import { kindOf } from '../types.js';

const pad = (n) => String(n).padStart(2, '0');

/** A timestamptz from the API as a datetime-local value, in the browser's time zone. */
function toLocalInput(value) {
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** The form's text (or boolean) for a value of the column. */
function initial(kind, value) {
  if (kind === 'bool') return value === true;
  if (value === null || value === undefined) return '';
  if (kind === 'json') return JSON.stringify(value, null, 2);
  if (kind === 'array') return JSON.stringify(value);
  if (kind === 'tstz') return toLocalInput(value);
  if (kind === 'ts') return String(value).slice(0, 19);
  return String(value);
}

/** The form's text back into the value the REST API takes; throws for what does not parse. */
export function parseValue(column, kind, text) {
  if (kind === 'bool') return text === true;
  const t = typeof text === 'string' ? text : String(text);
  if (t.trim() === '') return kind === 'text' && /^(text|character varying)/.test(column.type) ? '' : null;
  switch (kind) {
    case 'int':
    case 'num': {
      const n = Number(t);
      if (!Number.isFinite(n)) throw new Error(`${column.name}: ${t} is not a number`);
      return Number.isInteger(n) && !Number.isSafeInteger(n) ? t.trim() : n;
    }
    case 'json':
      try {
        return JSON.parse(t);
      } catch (e) {
        throw new Error(`${column.name}: not valid JSON (${e.message})`);
      }
    case 'array': {
      let v;
      try {
        v = JSON.parse(t);
      } catch {
        v = null;
      }
      if (!Array.isArray(v)) throw new Error(`${column.name}: enter a JSON array, such as ["a", "b"]`);
      return v;
    }
    case 'tstz': {
      const d = new Date(t);
      if (Number.isNaN(d.getTime())) throw new Error(`${column.name}: ${t} is not a date and time`);
      return d.toISOString();
    }
    default:
      return t;
  }
}

/** The referenced table's first 100 keys, for a picker (null while loading or when it failed). */
function useChoices(fks) {
  const [choices, setChoices] = useState({});
  useEffect(() => {
    let live = true;
    for (const [column, fk] of Object.entries(fks)) {
      const query = new URLSearchParams({ select: '*', order: `${fk.column}.asc`, limit: '100' });
      rest('GET', fk.table, { query })
        .then(({ rows }) => live && setChoices((c) => ({ ...c, [column]: rows || [] })))
        .catch(() => live && setChoices((c) => ({ ...c, [column]: false })));
    }
    return () => {
      live = false;
    };
  }, []);
  return choices;
}

/** A readable label for a referenced row: its key and a name-like column, if it has one. */
function choiceLabel(row, key) {
  const named = ['name', 'title', 'email', 'label', 'slug'].find((k) => typeof row[k] === 'string' && row[k]);
  return named ? `${row[key]} — ${row[named]}` : String(row[key]);
}

/**
 * The form. `row` is the row being edited (absent: a new row). `onSubmit(values)` gets the
 * changed columns' values (it may throw: the caller shows the error).
 */
export function RowForm({ desc, enums, fks, row, onSubmit, onCancel, busy }) {
  const columns = desc.columns;
  const [values, setValues] = useState(() => Object.fromEntries(columns.map((c) => [c.name, initial(kindOf(c.type), row ? row[c.name] : null)])));
  const [start] = useState(values);
  const choices = useChoices(fks);
  const set = (name, value) => setValues((v) => ({ ...v, [name]: value }));

  const submit = (e) => {
    e.preventDefault();
    onSubmit(() => {
      const out = {};
      for (const c of columns) {
        if (values[c.name] === start[c.name]) continue;
        out[c.name] = parseValue(c, kindOf(c.type), values[c.name]);
      }
      return out;
    });
  };

  const input = (c, id) => {
    const kind = kindOf(c.type);
    const value = values[c.name];
    const on = (e) => set(c.name, e.currentTarget.value);
    const described = `${id}-type`;
    if (kind === 'bool') {
      return html`<input id=${id} type="checkbox" checked=${value} aria-describedby=${described}
        onChange=${(e) => set(c.name, e.currentTarget.checked)} />`;
    }
    if (enums[c.name]) {
      return html`<select id=${id} value=${value} aria-describedby=${described} onChange=${on}>
        <option value="">${c.nullable ? 'NULL' : '(choose)'}</option>
        ${enums[c.name].map((v) => html`<option value=${v} selected=${v === value}>${v}</option>`)}
      </select>`;
    }
    const fk = fks[c.name];
    if (fk && Array.isArray(choices[c.name]) && choices[c.name].length < 100) {
      const rows = choices[c.name];
      const listed = rows.some((r) => String(r[fk.column]) === value);
      return html`<select id=${id} value=${value} aria-describedby=${described} onChange=${on}>
        <option value="">${c.nullable ? 'NULL' : '(choose)'}</option>
        ${value && !listed && html`<option value=${value} selected>${value}</option>`}
        ${rows.map((r) => html`<option value=${String(r[fk.column])} selected=${String(r[fk.column]) === value}>${choiceLabel(r, fk.column)}</option>`)}
      </select>`;
    }
    if (kind === 'json') {
      return html`<textarea id=${id} rows="4" spellcheck="false" aria-describedby=${described} value=${value} onInput=${on}></textarea>`;
    }
    const type = { int: 'number', num: 'number', date: 'date', tstz: 'datetime-local', ts: 'datetime-local' }[kind] || 'text';
    const step = kind === 'int' ? '1' : kind === 'num' ? 'any' : kind === 'tstz' || kind === 'ts' ? '1' : undefined;
    return html`<input id=${id} type=${type} step=${step} value=${value} aria-describedby=${described} onInput=${on}
      spellcheck="false" autocomplete="off" placeholder=${kind === 'array' ? '["a", "b"]' : undefined} />`;
  };

  return html`<form class="card row-form" onSubmit=${submit} aria-labelledby="row-form-title">
    <h2 id="row-form-title">${row ? 'Edit row' : 'Insert row'}</h2>
    <div class="grid-form">
      ${columns.map((c, i) => {
        const id = `row-${i}`;
        const hint = [c.type, c.nullable ? '' : 'required', c.default ? `default ${c.default}` : '', c.identity ? 'identity' : '']
          .filter(Boolean)
          .join(', ');
        return html`<div class="field" key=${c.name}>
          <label for=${id}>${c.name}</label>
          ${input(c, id)}
          <span id=${`${id}-type`} class="hint">${hint}${fks[c.name] ? ` → ${fks[c.name].table}` : ''}</span>
        </div>`;
      })}
    </div>
    <div class="actions">
      <button type="submit" class="primary" disabled=${busy}>Save</button>
      <button type="button" onClick=${onCancel}>Cancel</button>
    </div>
  </form>`;
}

// One column's fields, as bknd.create_table and bknd.add_column take it: name, type,
// required, unique, default, a reference to another table (many-to-one), enum values, array
// items, and the checks (min/max, lengths, pattern) and description.
import { html } from '../html.js';
import { COLUMN_TYPES, ON_DELETE, SCALAR_TYPES, parseDefault } from '../types.js';
import { CheckField, SelectField, TextField } from '../ui.js';

export function emptyColumn() {
  return {
    name: '', type: 'text', required: false, unique: false, default: '', references: '', on_delete: '',
    values: '', items: 'text', min: '', max: '', min_length: '', max_length: '', pattern: '', description: '',
  };
}

const NUMERIC = ['integer', 'bigint', 'number', 'numeric'];

/** The column as {name, ...spec}; throws with a message a person can act on. */
export function columnSpec(col) {
  const name = col.name.trim();
  if (!name) throw new Error('every column needs a name');
  const type = col.references ? 'reference' : col.type;
  const spec = { name, type };
  if (type === 'reference') {
    if (!col.references) throw new Error(`column ${name}: choose the table it references`);
    spec.table = col.references;
    if (col.on_delete) spec.on_delete = col.on_delete;
  }
  if (type === 'enum') {
    const values = col.values.split(',').map((v) => v.trim()).filter(Boolean);
    if (!values.length) throw new Error(`column ${name}: an enum needs values (a comma list)`);
    spec.values = values;
  }
  if (type === 'array') spec.items = col.items;
  if (col.required) spec.required = true;
  if (col.unique) spec.unique = true;
  if (col.default.trim() !== '') {
    try {
      spec.default = parseDefault(col.default, type === 'enum' ? 'text' : type);
    } catch (e) {
      throw new Error(`column ${name}: ${e.message}`);
    }
  }
  const number = (key) => {
    if (String(col[key]).trim() === '') return;
    const n = Number(col[key]);
    if (!Number.isFinite(n)) throw new Error(`column ${name}: ${key} must be a number`);
    spec[key] = n;
  };
  if (NUMERIC.includes(type)) ['min', 'max'].forEach(number);
  if (type === 'text') {
    ['min_length', 'max_length'].forEach(number);
    if (col.pattern.trim()) spec.pattern = col.pattern;
  }
  if (col.description.trim()) spec.description = col.description.trim();
  return spec;
}

/**
 * The fields of one column. `prefix` makes the ids unique; `tables` are the qualified names a
 * column may reference; `onChange` gets the whole changed column.
 */
export function ColumnFields({ col, onChange, tables, prefix }) {
  const set = (key) => (value) => onChange({ ...col, [key]: value });
  const type = col.references ? 'reference' : col.type;
  return html`<div class="column-fields">
    <div class="row">
      <${TextField} id=${`${prefix}-name`} label="Column name" value=${col.name} onInput=${set('name')}
        autocomplete="off" spellcheck="false" maxlength="48" />
      <${SelectField} id=${`${prefix}-type`} label="Type" value=${col.type} onChange=${set('type')} options=${COLUMN_TYPES} />
      <${SelectField} id=${`${prefix}-ref`} label="References" value=${col.references} onChange=${set('references')}
        options=${[['', '(none)'], ...tables]} />
      <${TextField} id=${`${prefix}-default`} label="Default" value=${col.default} onInput=${set('default')}
        placeholder=${type === 'timestamp' ? 'now()' : type === 'uuid' ? 'gen_random_uuid()' : ''} autocomplete="off" />
      <${CheckField} id=${`${prefix}-required`} label="Required" checked=${col.required} onChange=${set('required')} />
      <${CheckField} id=${`${prefix}-unique`} label="Unique" checked=${col.unique} onChange=${set('unique')} />
    </div>
    ${(type === 'reference' || type === 'enum' || type === 'array') && html`<div class="row">
      ${type === 'reference' && html`<${SelectField} id=${`${prefix}-ondelete`} label="On delete" value=${col.on_delete}
        onChange=${set('on_delete')} options=${ON_DELETE} />`}
      ${type === 'reference' && !col.references && html`<p class="hint">Choose the referenced table in References.</p>`}
      ${type === 'enum' && html`<${TextField} id=${`${prefix}-values`} label="Values" value=${col.values} onInput=${set('values')}
        placeholder="draft, published" />`}
      ${type === 'array' && html`<${SelectField} id=${`${prefix}-items`} label="Items" value=${col.items} onChange=${set('items')}
        options=${SCALAR_TYPES} />`}
    </div>`}
    <details class="more">
      <summary>Checks and description</summary>
      <div class="row">
        ${NUMERIC.includes(type) && html`
          <${TextField} id=${`${prefix}-min`} label="Min" type="number" step="any" value=${col.min} onInput=${set('min')} />
          <${TextField} id=${`${prefix}-max`} label="Max" type="number" step="any" value=${col.max} onInput=${set('max')} />`}
        ${type === 'text' && html`
          <${TextField} id=${`${prefix}-minlen`} label="Min length" type="number" min="0" value=${col.min_length} onInput=${set('min_length')} />
          <${TextField} id=${`${prefix}-maxlen`} label="Max length" type="number" min="0" value=${col.max_length} onInput=${set('max_length')} />
          <${TextField} id=${`${prefix}-pattern`} label="Pattern" value=${col.pattern} onInput=${set('pattern')} placeholder="^[a-z]+$" />`}
        <${TextField} id=${`${prefix}-desc`} label="Description" value=${col.description} onInput=${set('description')} />
      </div>
    </details>
  </div>`;
}

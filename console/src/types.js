// Column types: those bknd.create_table takes, and the kind of input a PostgreSQL type (as
// describe_table spells it) gets in the data grid.

/** create_table's column types. */
export const COLUMN_TYPES = ['text', 'integer', 'bigint', 'number', 'numeric', 'boolean', 'date', 'timestamp', 'uuid', 'json', 'enum', 'array', 'reference'];
/** The scalar types an array may hold. */
export const SCALAR_TYPES = ['text', 'integer', 'bigint', 'number', 'numeric', 'boolean', 'date', 'timestamp', 'uuid', 'json'];
export const ON_DELETE = [['', 'no action'], ['cascade', 'cascade'], ['set null', 'set null'], ['restrict', 'restrict']];
/** Defaults that are expressions, not literals (bknd accepts only these). */
export const DEFAULT_EXPRESSIONS = ['now()', 'gen_random_uuid()', 'bknd.uid()'];

/**
 * The input kind for a PostgreSQL type: bool, int, num, json, array, date, tstz, ts, text.
 */
export function kindOf(pgType) {
  const t = String(pgType || '').toLowerCase();
  if (t.endsWith('[]')) return 'array';
  if (t === 'boolean') return 'bool';
  if (t === 'integer' || t === 'smallint' || t === 'bigint') return 'int';
  if (t.startsWith('numeric') || t === 'double precision' || t === 'real') return 'num';
  if (t === 'json' || t === 'jsonb') return 'json';
  if (t === 'date') return 'date';
  if (t.startsWith('timestamp') && t.includes('with time zone')) return 'tstz';
  if (t.startsWith('timestamp')) return 'ts';
  return 'text';
}

/** Enum columns: bknd makes them text with CHECK (col IN (...)), which PostgreSQL shows as = ANY (ARRAY[...]). */
export function enumValues(desc) {
  const out = {};
  for (const check of (desc && desc.checks) || []) {
    const m = /^CHECK \(\(?"?([^"\s()]+)"? = ANY \(ARRAY\[(.*)\]\)\)\)?$/.exec(check.definition || '');
    if (!m) continue;
    const values = [];
    const literal = /'((?:[^']|'')*)'::(?:text|character varying)/g;
    let v;
    while ((v = literal.exec(m[2]))) values.push(v[1].replace(/''/g, "'"));
    if (values.length) out[m[1]] = values;
  }
  return out;
}

/** Single-column foreign keys: {column: {table, column}} with table qualified when not public. */
export function foreignKeys(desc) {
  const out = {};
  for (const fk of (desc && desc.foreign_keys) || []) {
    if (!fk.columns || fk.columns.length !== 1) continue;
    const r = fk.references;
    out[fk.columns[0]] = { table: r.schema === 'public' ? r.table : `${r.schema}.${r.table}`, column: r.columns[0], onDelete: fk.on_delete };
  }
  return out;
}

/** The table's single-column primary key, or null. */
export function primaryKey(desc) {
  return desc && desc.primary_key && desc.primary_key.length === 1 ? desc.primary_key[0] : null;
}

export function qualified(table) {
  return table.schema && table.schema !== 'public' ? `${table.schema}.${table.name}` : table.name;
}

/** A default typed in a form, as create_table wants it for the column type. */
export function parseDefault(text, type) {
  const t = text.trim();
  if (t === '' || DEFAULT_EXPRESSIONS.includes(t)) return t || undefined;
  if (type === 'boolean') {
    if (/^(true|false)$/i.test(t)) return t.toLowerCase() === 'true';
    throw new Error(`a boolean default is true or false, not ${t}`);
  }
  if (['integer', 'bigint', 'number', 'numeric'].includes(type)) {
    const n = Number(t);
    if (!Number.isFinite(n)) throw new Error(`default ${t} is not a number`);
    return Number.isInteger(n) && !Number.isSafeInteger(n) ? t : n;
  }
  if (type === 'json' || type === 'array') {
    try {
      return JSON.parse(t);
    } catch {
      if (type === 'json') throw new Error(`default ${t} is not valid JSON`);
      throw new Error(`an array default is a JSON array such as ["a", "b"]`);
    }
  }
  return text;
}

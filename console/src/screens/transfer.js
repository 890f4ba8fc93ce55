// Export (CSV or JSON, streamed by the server) and CSV import (batches of
// 500 rows with a progress bar; a batch that fails is retried row by row to name the bad rows).
import { useState } from 'preact/hooks';
import { html } from '../html.js';
import { request, rest, splitTable } from '../api.js';
import { kindOf } from '../types.js';
import { parseValue } from './rowform.js';

const BATCH = 500;

/** RFC 4180 CSV: records of fields; quoted fields may hold commas, quotes ("") and newlines. */
export function parseCsv(text) {
  const records = [];
  let field = '';
  let record = [];
  let quoted = false;
  let i = 0;
  if (text.charCodeAt(0) === 0xfeff) i = 1;
  for (; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += ch;
    } else if (ch === '"' && field === '') quoted = true;
    else if (ch === ',') {
      record.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      record.push(field);
      records.push(record);
      record = [];
      field = '';
    } else field += ch;
  }
  if (field !== '' || record.length) {
    record.push(field);
    records.push(record);
  }
  return records.filter((r) => !(r.length === 1 && r[0] === ''));
}

/**
 * Export buttons: the server streams every row the grid's filter keeps, as the grid's viewer,
 * straight into a download (GET /console/api/export/TABLE). A probe of one row first, so a
 * refusal shows here instead of as a broken download.
 */
export function ExportButtons({ table, filter, viewAs, run, busy }) {
  const [started, setStarted] = useState(null);
  const go = (format) =>
    run(async () => {
      const { schema, name } = splitTable(table);
      const q = new URLSearchParams({ format });
      if (schema !== 'public') q.set('schema', schema);
      if (viewAs) q.set('view_as', viewAs);
      const f = String(new URLSearchParams(filter)).replace(/\+/g, '%20');
      if (f) q.set('filter', f);
      const url = `/console/api/export/${encodeURIComponent(name)}?${String(q).replace(/\+/g, '%20')}`;
      await request('GET', `${url}&probe=1`, { raw: true });
      const a = document.createElement('a');
      a.href = url;
      a.download = `${name.replace(/[^A-Za-z0-9_.-]/g, '_')}.${format}`;
      document.body.appendChild(a);
      a.click();
      a.remove();
      setStarted(format.toUpperCase());
    });
  return html`<span class="group">
    <button type="button" onClick=${() => go('csv')} disabled=${busy}>Export CSV</button>
    <button type="button" onClick=${() => go('json')} disabled=${busy}>Export JSON</button>
    ${started && html`<span role="status" class="muted small">${started} export started: the browser saves it as it streams.</span>`}
  </span>`;
}

/** Rows of a CSV as objects for the table, or an error per broken record (1-based line numbers). */
function rowsOf(records, desc) {
  const [header, ...body] = records;
  const byName = Object.fromEntries(desc.columns.map((c) => [c.name, c]));
  const unknown = header.filter((h) => !byName[h.trim()]);
  if (unknown.length) throw new Error(`the CSV names columns the table does not have: ${unknown.join(', ')}`);
  const names = header.map((h) => h.trim());
  const rows = [];
  const errors = [];
  body.forEach((fields, i) => {
    const line = i + 2;
    if (fields.length !== names.length) {
      errors.push({ line, message: `expected ${names.length} fields, found ${fields.length}` });
      return;
    }
    const row = {};
    try {
      names.forEach((name, j) => {
        const text = fields[j];
        if (text === '') return; // empty: the column's default, or NULL
        const column = byName[name];
        const kind = kindOf(column.type);
        row[name] = kind === 'bool' ? parseBool(name, text) : parseValue(column, kind, text);
      });
      rows.push({ line, row });
    } catch (e) {
      errors.push({ line, message: e.message });
    }
  });
  return { names, rows, errors };
}

function parseBool(name, text) {
  const t = text.trim().toLowerCase();
  if (['true', 't', '1', 'yes'].includes(t)) return true;
  if (['false', 'f', '0', 'no'].includes(t)) return false;
  throw new Error(`${name}: ${text} is not true or false`);
}

/** The "Import CSV" file input, its progress bar and the rows that failed. */
export function ImportCsv({ table, desc, disabled, onDone }) {
  const [state, setState] = useState(null); // {done, total, errors, inserted, finished, fatal}

  const choose = async (e) => {
    const file = e.currentTarget.files[0];
    e.currentTarget.value = '';
    if (!file) return;
    let parsed;
    try {
      const records = parseCsv(await file.text());
      if (!records.length) throw new Error('the file is empty');
      parsed = rowsOf(records, desc);
    } catch (err) {
      setState({ done: 0, total: 0, errors: [], inserted: 0, finished: true, fatal: err.message });
      return;
    }
    const { names, rows } = parsed;
    const errors = [...parsed.errors];
    const total = rows.length + errors.length;
    let done = errors.length;
    let inserted = 0;
    setState({ done, total, errors, inserted, finished: false });
    const query = new URLSearchParams({ columns: names.join(',') });
    const send = (batch) => rest('POST', table, { query, body: batch.map((r) => r.row), prefer: ['return=minimal', 'missing=default'] });
    for (let i = 0; i < rows.length; i += BATCH) {
      const batch = rows.slice(i, i + BATCH);
      try {
        await send(batch);
        inserted += batch.length;
      } catch (err) {
        if (err.status === 401 || err.status === 0) {
          errors.push({ line: batch[0].line, message: `stopped: ${err.message}` });
          break;
        }
        // one transaction per batch: find the rows that fail, one by one
        for (const r of batch) {
          try {
            await send([r]);
            inserted += 1;
          } catch (rowError) {
            errors.push({ line: r.line, message: rowError.message });
          }
        }
      }
      done += batch.length;
      setState({ done, total, errors: [...errors], inserted, finished: false });
    }
    errors.sort((a, b) => a.line - b.line);
    setState({ done: total, total, errors, inserted, finished: true });
    onDone();
  };

  return html`<span class="group">
    <input id="import-csv" class="file" type="file" accept=".csv,text/csv" disabled=${disabled} onChange=${choose} />
    <label for="import-csv" class=${`button${disabled ? ' disabled' : ''}`}>Import CSV</label>
    ${state && html`<div class="import" role="status">
      <label for="import-progress">Import progress</label>
      <progress id="import-progress" max=${state.total || 1} value=${state.done}></progress>
      <span>${state.finished ? `Imported ${state.inserted} of ${state.total} rows.` : `Importing… ${state.done} of ${state.total}`}</span>
      ${state.fatal && html`<p role="alert" class="alert">${state.fatal}</p>`}
      ${state.errors.length > 0 && html`<details open><summary>${state.errors.length} rows failed</summary>
        <ul class="errors">${state.errors.map((e) => html`<li key=${e.line}>Line ${e.line}: ${e.message}</li>`)}</ul>
      </details>`}
      ${state.finished && html`<button type="button" class="small" onClick=${() => setState(null)}>Close</button>`}
    </div>`}
  </span>`;
}

// SQL: the editor, Run (read-only unless the member unticks it; viewers cannot), results in a
// table, errors with their position, snippets saved per member.
import { useEffect, useRef, useState } from 'preact/hooks';
import { html } from '../html.js';
import { get, post, request, tool } from '../api.js';
import { createEditor, goTo, setTables, setText } from '../editor.js';
import { qualified } from '../types.js';
import { Alert, Cell, Status, useAction, when } from '../ui.js';

const SHOWN = 1000;

let timeoutAsked = null;
/** The statement timeout SQL runs under, asked once per page load. */
function statementTimeout() {
  timeoutAsked ??= tool('execute_sql', { query: 'SHOW statement_timeout', read_only: true })
    .then((r) => {
      const row = r && r.results && r.results[0] && r.results[0].rows[0];
      return row ? Object.values(row)[0] : null;
    })
    .catch(() => null);
  return timeoutAsked;
}

function Results({ result }) {
  const first = result.results && result.results[0];
  if (!first) return null;
  const rows = first.rows || [];
  const columns = first.columns || result.columns || [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const count = first.row_count ?? rows.length;
  return html`<section class="results" aria-label="Results">
    <p class="muted">${count} ${count === 1 ? 'row' : 'rows'}${result.read_only ? ' (read only)' : ''}${rows.length > SHOWN ? `, the first ${SHOWN} shown` : ''}</p>
    ${columns.length > 0 && html`<div class="grid-wrap"><table class="grid">
      <thead><tr>${columns.map((c, i) => html`<th scope="col" key=${i}>${c}</th>`)}</tr></thead>
      <tbody>${rows.slice(0, SHOWN).map((r, i) => html`<tr key=${i}>${columns.map((c, j) => html`<td key=${j}><${Cell} value=${r[c]} /></td>`)}</tr>`)}</tbody>
    </table></div>`}
  </section>`;
}

export function SqlScreen({ member }) {
  const viewer = member.role === 'viewer';
  const host = useRef(null);
  const view = useRef(null);
  const runRef = useRef(() => {});
  const [readOnly, setReadOnly] = useState(true);
  const [result, setResult] = useState(null);
  const [snippets, setSnippets] = useState([]);
  const [name, setName] = useState('');
  const [status, setStatus] = useState(null);
  const [timeout, setTimeoutText] = useState(null);
  const { error, setError, busy, run } = useAction();

  const loadSnippets = () =>
    get('/console/api/snippets')
      .then((list) => setSnippets(list || []))
      .catch(setError);

  useEffect(() => {
    view.current = createEditor(host.current, { onRun: () => runRef.current() });
    loadSnippets();
    tool('list_tables')
      .then((tables) => view.current && setTables(view.current, (tables || []).map(qualified)))
      .catch(() => {});
    statementTimeout().then(setTimeoutText);
    return () => {
      view.current.destroy();
      view.current = null;
    };
  }, []);

  const execute = () =>
    run(async () => {
      setStatus(null);
      const query = view.current.state.doc.toString();
      if (!query.trim()) throw new Error('write a statement first');
      setResult(null);
      try {
        setResult(await tool('execute_sql', { query, read_only: viewer || readOnly }));
      } catch (e) {
        const at = /at character (\d+)/.exec(e.message);
        if (at && view.current) goTo(view.current, Number(at[1]));
        throw e;
      }
    });
  runRef.current = execute;

  const save = (e) => {
    e.preventDefault();
    run(async () => {
      const sql = view.current.state.doc.toString();
      if (!name.trim()) throw new Error('give the snippet a name');
      await post('/console/api/snippets', { name: name.trim(), sql });
      setStatus(`Snippet ${name.trim()} saved.`);
      await loadSnippets();
    });
  };

  const open = (s) => {
    setText(view.current, s.sql);
    setName(s.name);
    view.current.focus();
  };

  const remove = (s) =>
    run(async () => {
      await request('DELETE', `/console/api/snippets/${encodeURIComponent(s.id)}`);
      setStatus(`Snippet ${s.name} deleted.`);
      await loadSnippets();
    });

  return html`<main id="main" class="main sql">
    <h1>SQL</h1>
    <div class="sql-layout">
      <div class="sql-editor">
        <div ref=${host}></div>
        <div class="toolbar">
          <button type="button" class="primary" onClick=${execute} disabled=${busy}>Run</button>
          <div class="field check">
            <input id="sql-read-only" type="checkbox" checked=${viewer || readOnly} disabled=${viewer}
              onChange=${(e) => setReadOnly(e.currentTarget.checked)} aria-describedby="sql-read-only-hint" />
            <label for="sql-read-only">Read only</label>
          </div>
          <span id="sql-read-only-hint" class="hint">${viewer
            ? 'Viewers run SQL read-only.'
            : readOnly ? 'Runs in a READ ONLY transaction.' : 'Writes are allowed: the statement commits.'}
            ${timeout && ` Statement timeout: ${timeout}.`} One statement per run.</span>
        </div>
        <${Alert} error=${error} />
        <${Status} text=${status} />
        ${result && html`<${Results} result=${result} />`}
      </div>
      <aside class="panel snippets" aria-label="Snippets">
        <h2>Snippets</h2>
        <form class="group" onSubmit=${save}>
          <label for="snippet-name" class="sr-only">Snippet name</label>
          <input id="snippet-name" type="text" placeholder="Snippet name" value=${name} onInput=${(e) => setName(e.currentTarget.value)} />
          <button type="submit" disabled=${busy}>Save snippet</button>
        </form>
        ${snippets.length === 0 && html`<p class="muted small">No saved snippets.</p>`}
        <ul class="snippet-list">${snippets.map((s) => html`<li key=${s.id}>
          <button type="button" class="link" onClick=${() => open(s)} title=${`Saved ${when(s.updated_at)}`}>${s.name}</button>
          <button type="button" class="small" onClick=${() => remove(s)} aria-label=${`Delete snippet ${s.name}`}>Delete</button>
        </li>`)}</ul>
      </aside>
    </div>
  </main>`;
}

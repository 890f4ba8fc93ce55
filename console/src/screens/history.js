// A table's schema history: when, by whom, what (bknd.schema_history, filtered to the table).
import { useEffect, useState } from 'preact/hooks';
import { html } from '../html.js';
import { tool } from '../api.js';
import { Alert, useAction, when } from '../ui.js';

function about(entry, table) {
  const a = entry.arguments || {};
  const bare = table.includes('.') ? table : `public.${table}`;
  const names = [a.table_name, a.from_table, a.to_table, a.table].filter(Boolean).map((n) => (n.includes('.') ? n : `public.${n}`));
  return names.includes(bare);
}

export function HistoryTab({ table }) {
  const [entries, setEntries] = useState(null);
  const { error, run } = useAction();
  useEffect(() => {
    run(async () => setEntries(((await tool('schema_history', { limit: 1000 })) || []).filter((e) => about(e, table))));
  }, [table]);

  return html`<div class="history">
    <${Alert} error=${error} />
    ${entries && entries.length === 0 && html`<p class="muted">No recorded changes to ${table}.</p>`}
    ${entries && entries.length > 0 && html`<ol class="history-list">${entries.map((e) => html`<li key=${e.id}>
      <div><strong>${e.operation}</strong> <span class="muted">${when(e.at)} · ${e.by_role}${e.by_sub ? ` (${e.by_sub})` : ''}</span></div>
      <details><summary>DDL and arguments</summary>
        <pre class="mono">${(e.ddl || []).join(';\n')}</pre>
        <pre class="mono">${JSON.stringify(e.arguments, null, 2)}</pre>
      </details>
    </li>`)}</ol>`}
  </div>`;
}

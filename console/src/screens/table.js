// One table: its description (describe_table) and the tabs Data, Structure, Policies, History.
import { useEffect, useState } from 'preact/hooks';
import { html } from '../html.js';
import { tool } from '../api.js';
import { navigate, tablePath } from '../router.js';
import { Alert, useAction } from '../ui.js';
import { DataTab } from './data.js';
import { StructureTab } from './structure.js';
import { PoliciesTab } from './policies.js';
import { HistoryTab } from './history.js';

const TABS = [['data', 'Data'], ['structure', 'Structure'], ['policies', 'Policies'], ['history', 'History']];

export function TableView({ table, tab, tables, member, onChanged }) {
  const [desc, setDesc] = useState(null);
  const { error, run } = useAction();
  const current = TABS.some(([k]) => k === tab) ? tab : 'data';

  const reload = () => run(async () => setDesc(await tool('describe_table', { table })));
  useEffect(() => {
    reload();
  }, [table]);

  const keys = (e) => {
    const i = TABS.findIndex(([k]) => k === current);
    const next = e.key === 'ArrowRight' ? (i + 1) % TABS.length : e.key === 'ArrowLeft' ? (i + TABS.length - 1) % TABS.length : -1;
    if (next < 0) return;
    e.preventDefault();
    navigate(tablePath(table, TABS[next][0]), { replace: true });
    requestAnimationFrame(() => document.getElementById(`tab-${TABS[next][0]}`)?.focus());
  };

  const changed = () => {
    reload();
    onChanged();
  };

  return html`<section class="table-view">
    <h1>${table}</h1>
    ${desc && desc.description && html`<p class="muted">${desc.description}</p>`}
    <div role="tablist" aria-label="Table" class="tabs" onKeyDown=${keys}>
      ${TABS.map(([key, label]) => html`<button type="button" role="tab" id=${`tab-${key}`} key=${key}
        aria-selected=${key === current ? 'true' : 'false'} aria-controls="tabpanel" tabindex=${key === current ? 0 : -1}
        onClick=${() => navigate(tablePath(table, key))}>${label}</button>`)}
    </div>
    <div role="tabpanel" id="tabpanel" aria-labelledby=${`tab-${current}`} class="tabpanel">
      <${Alert} error=${error} />
      ${desc && current === 'data' && html`<${DataTab} key=${`d-${table}`} table=${table} desc=${desc} member=${member} />`}
      ${desc && current === 'structure' && html`<${StructureTab} table=${table} desc=${desc} tables=${tables} onChanged=${changed} />`}
      ${desc && current === 'policies' && html`<${PoliciesTab} table=${table} desc=${desc} onChanged=${reload} />`}
      ${current === 'history' && html`<${HistoryTab} table=${table} />`}
    </div>
  </section>`;
}

// A table's RLS policies: operations x roles at a glance, add (presets or an expression) and
// remove. bknd.allow names its policies bknd_<operation>_<role>_<rule>, so a preset is known
// from the name.
import { useEffect, useState } from 'preact/hooks';
import { html } from '../html.js';
import { tool } from '../api.js';
import { Alert, SelectField, Status, TextField, useAction } from '../ui.js';

const OPERATIONS = ['select', 'insert', 'update', 'delete'];
const PRESETS = ['true', 'owner', 'authenticated'];
const ident = (s) => `"${String(s).replace(/"/g, '""')}"`;

/** The rule of a policy: a preset's name for bknd's, else its expression. */
function ruleOf(p) {
  if (p.managed) {
    const preset = PRESETS.find((r) => p.name.endsWith(`_${r}`));
    if (preset) return { preset, text: preset };
  }
  const expr = p.command === 'insert' ? p.with_check : p.using || p.with_check;
  return { preset: null, text: expr || 'true' };
}

export function PoliciesTab({ table, desc, onChanged }) {
  const policies = desc.policies || [];
  const { error, busy, run } = useAction();
  const [status, setStatus] = useState(null);
  const [adding, setAdding] = useState(false);
  const roles = ['anon', 'authenticated', ...new Set(policies.flatMap((p) => p.roles).filter((r) => r !== 'anon' && r !== 'authenticated'))];

  const remove = (p) =>
    run(async () => {
      setStatus(null);
      const { preset } = ruleOf(p);
      const role = p.roles[0];
      const siblings = policies.filter((q) => q.managed && q.command === p.command && q.roles.join() === p.roles.join());
      if (p.managed && p.roles.length === 1 && p.command !== 'all' && (preset || siblings.length === 1)) {
        await tool('revoke', { table, operations: p.command, role, ...(preset ? { rule: preset } : {}) });
      } else {
        await tool('execute_sql', { query: `DROP POLICY ${ident(p.name)} ON ${ident(desc.schema)}.${ident(desc.name)}`, read_only: false });
      }
      setStatus(`Policy ${p.name} deleted.`);
      onChanged();
    });

  const save = (args) =>
    run(async () => {
      setStatus(null);
      await tool('allow', { table, ...args });
      setAdding(false);
      setStatus('Policy saved.');
      onChanged();
    });

  return html`<div class="policies">
    ${!desc.rls_enabled && html`<p class="banner">Row level security is off for this table: every role with table privileges sees every row.</p>`}
    <${Alert} error=${error} />
    <${Status} text=${status} />
    <table class="matrix" aria-label="Policies by operation and role">
      <thead><tr><th scope="col"><span class="sr-only">Operation</span></th>${roles.map((r) => html`<th scope="col" key=${r}>${r}</th>`)}</tr></thead>
      <tbody>${OPERATIONS.map((op) => html`<tr key=${op}>
        <th scope="row">${op}</th>
        ${roles.map((role) => {
          const rules = policies
            .filter((p) => (p.command === op || p.command === 'all') && (p.roles.includes(role) || p.roles.includes('public')))
            .map((p) => ruleOf(p).text);
          return html`<td key=${role} class=${rules.length ? 'allowed' : 'denied'}>
            ${rules.length ? rules.map((r) => html`<div class="mono">${r}</div>`) : html`<span class="muted">no access</span>`}</td>`;
        })}
      </tr>`)}</tbody>
    </table>
    <p class="hint">Rows are visible to a role only where a policy allows it; service_role and members viewing without RLS see every row.</p>

    <h2>Policies</h2>
    ${policies.length === 0 && html`<p class="muted">No policies: only service_role can read or write rows.</p>`}
    <ul class="policy-list">${policies.map((p) => html`<li key=${p.name}>
      <span><strong>${p.command}</strong> to ${p.roles.join(', ')} where <code>${ruleOf(p).text}</code>
        <span class="muted small"> (${p.name}${p.permissive ? '' : ', restrictive'})</span></span>
      <button type="button" class="small" disabled=${busy} onClick=${() => remove(p)}>Delete</button>
    </li>`)}</ul>

    ${adding
      ? html`<${PolicyForm} busy=${busy} onSave=${save} onCancel=${() => setAdding(false)} />`
      : html`<button type="button" class="primary" onClick=${() => setAdding(true)}>Add policy</button>`}
  </div>`;
}

function PolicyForm({ busy, onSave, onCancel }) {
  const [operation, setOperation] = useState('select');
  const [role, setRole] = useState('authenticated');
  const [rule, setRule] = useState('true');
  const [expression, setExpression] = useState('');
  const submit = (e) => {
    e.preventDefault();
    onSave({ operations: operation, role, rule: rule === 'expression' ? expression : rule });
  };
  return html`<form class="card" onSubmit=${submit} aria-label="Add policy">
    <div class="row">
      <${SelectField} id="pol-op" label="Operation" value=${operation} onChange=${setOperation} options=${[...OPERATIONS, 'all']} />
      <${SelectField} id="pol-role" label="Role" value=${role} onChange=${setRole} options=${['anon', 'authenticated', 'public']} />
      <${SelectField} id="pol-rule" label="Rule" value=${rule} onChange=${setRule}
        options=${[['true', 'true'], ['owner', 'owner'], ['authenticated', 'authenticated'], ['expression', 'expression…']]} />
      ${rule === 'expression' && html`<${TextField} id="pol-expr" label="Expression" value=${expression} onInput=${setExpression}
        class="mono" placeholder="status = 'published'" spellcheck="false" />`}
    </div>
    <p class="hint">${{
      true: 'Every row, for the role.',
      owner: 'Rows whose owner_id is the caller (bknd.uid()).',
      authenticated: 'Any caller with a user id.',
      expression: 'An SQL boolean expression over the row, such as published or owner_id = bknd.uid().',
    }[rule]}</p>
    <div class="actions">
      <button type="submit" class="primary" disabled=${busy || (rule === 'expression' && !expression.trim())}>Save policy</button>
      <button type="button" onClick=${onCancel}>Cancel</button>
    </div>
  </form>`;
}

/** Who may do `op` on a table: "role: rule" for each policy that allows it. */
function allowed(policies, op) {
  return policies
    .filter((p) => p.command === op || p.command === 'all')
    .flatMap((p) => p.roles.map((role) => `${role}: ${ruleOf(p).text}`));
}

const OVERVIEW_MAX = 60;

/**
 * Every table's policies at a glance (tables x operations), on the Tables screen. One
 * describe_table per table, at most OVERVIEW_MAX of them.
 */
export function PolicyOverview({ tables }) {
  const [described, setDescribed] = useState(null);
  const { error, run } = useAction();
  const names = tables.slice(0, OVERVIEW_MAX);
  useEffect(() => {
    run(async () => setDescribed(await Promise.all(names.map((table) => tool('describe_table', { table }).then((d) => ({ table, d }))))));
  }, [names.join()]);
  if (!names.length) return null;
  return html`<section aria-label="Policies at a glance">
    <h2>Policies at a glance</h2>
    <${Alert} error=${error} />
    ${described === null && !error && html`<p class="muted">Loading…</p>`}
    ${described && html`<div class="grid-wrap"><table class="matrix overview" aria-label="Policies of every table">
      <thead><tr><th scope="col">table</th>${OPERATIONS.map((op) => html`<th scope="col" key=${op}>${op}</th>`)}</tr></thead>
      <tbody>${described.map(({ table, d }) => html`<tr key=${table}>
        <th scope="row">${table}</th>
        ${OPERATIONS.map((op) => {
          if (!d.rls_enabled) return html`<td key=${op} class="denied">every role with privileges (RLS off)</td>`;
          const who = allowed(d.policies || [], op);
          return html`<td key=${op} class=${who.length ? 'allowed' : 'denied'}>${who.length
            ? who.map((w) => html`<div class="mono">${w}</div>`)
            : html`<span class="muted">no access</span>`}</td>`;
        })}
      </tr>`)}</tbody>
    </table></div>`}
    ${tables.length > OVERVIEW_MAX && html`<p class="hint">The first ${OVERVIEW_MAX} tables; open a table's Policies for the rest.</p>`}
  </section>`;
}

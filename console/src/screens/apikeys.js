// API: the URLs, the anon key, the service_role key (revealed on request, admin and owner),
// supabase-js snippets per table from its columns, and MCP set-up for AI tools.
import { useEffect, useState } from 'preact/hooks';
import { html } from '../html.js';
import { get, post, tool } from '../api.js';
import { kindOf, qualified } from '../types.js';
import { Alert, Code, useAction } from '../ui.js';

const SYSTEM = ['id', 'owner_id', 'created_at', 'updated_at'];

function example(column) {
  switch (kindOf(column.type)) {
    case 'bool':
      return 'true';
    case 'int':
    case 'num':
      return '1';
    case 'json':
      return '{}';
    case 'array':
      return '[]';
    case 'date':
      return `'${new Date().toISOString().slice(0, 10)}'`;
    case 'tstz':
    case 'ts':
      return 'new Date().toISOString()';
    default:
      return column.type === 'uuid' ? "'00000000-0000-0000-0000-000000000000'" : `'${column.name}'`;
  }
}

const key = (name) => (/^[A-Za-z_$][\w$]*$/.test(name) ? name : `'${name}'`);

export function supabaseSnippet(desc, base, anonKey) {
  const columns = desc.columns;
  const name = desc.name;
  const schema = desc.schema !== 'public' ? `.schema('${desc.schema}')` : '';
  const writable = columns.filter((c) => !c.identity && !(SYSTEM.includes(c.name) && c.default));
  const fields = (writable.length ? writable : columns).map((c) => `${key(c.name)}: ${example(c)}`);
  const pk = desc.primary_key && desc.primary_key[0];
  return `import { createClient } from '@supabase/supabase-js'

const supabase = createClient('${base}', '${anonKey}')

// read
const { data: rows, error } = await supabase${schema}
  .from('${name}')
  .select('${columns.map((c) => c.name).join(', ')}')
  .limit(100)

// insert
const { data: inserted, error: insertError } = await supabase${schema}
  .from('${name}')
  .insert({ ${fields.join(', ')} })
  .select()
${pk ? `
// update and delete (by ${pk})
await supabase${schema}.from('${name}').update({ ${fields[0] || ''} }).eq('${pk}', inserted[0].${pk})
await supabase${schema}.from('${name}').delete().eq('${pk}', inserted[0].${pk})
` : ''}`;
}

function mcpSetups(url, token) {
  const header = `Authorization: Bearer ${token}`;
  const remote = { url, headers: { Authorization: `Bearer ${token}` } };
  return [
    ['Claude Code', 'a command', `claude mcp add --transport http bknd ${url} --header "${header}"`],
    ['Cursor', '.cursor/mcp.json', JSON.stringify({ mcpServers: { bknd: remote } }, null, 2)],
    ['VS Code', '.vscode/mcp.json', JSON.stringify({ servers: { bknd: { type: 'http', ...remote } } }, null, 2)],
    ['Claude Desktop', 'claude_desktop_config.json (through the mcp-remote bridge)', JSON.stringify({
      mcpServers: { bknd: { command: 'npx', args: ['-y', 'mcp-remote', url, '--header', 'Authorization:${BKND_AUTH}'], env: { BKND_AUTH: `Bearer ${token}` } } },
    }, null, 2)],
  ];
}

export function ApiScreen() {
  const [project, setProject] = useState(null);
  const [serviceKey, setServiceKey] = useState(null);
  const [tables, setTables] = useState(null);
  const { error, busy, run } = useAction();

  useEffect(() => {
    run(async () => {
      // everything at once, so the screen appears whole
      const [p, list] = await Promise.all([get('/console/api/project'), tool('list_tables')]);
      const described = await Promise.all((list || []).slice(0, 50).map((t) => tool('describe_table', { table: qualified(t) }).catch(() => null)));
      setTables(described.filter(Boolean));
      setProject(p);
    });
  }, []);

  const reveal = () => run(async () => setServiceKey((await post('/console/api/project/service-role-key', {})).service_role_key));

  const urls = project ? project.urls : {};
  const base = urls.base || (urls.rest || '').replace(/\/rest\/v1\/?$/, '');
  const token = serviceKey || '<service_role key>';

  return html`<main id="main" class="main api">
    <h1>API</h1>
    <${Alert} error=${error} />
    ${project && html`
      <section>
        <h2>URLs</h2>
        <dl class="pairs">
          ${['rest', 'auth', 'storage', 'realtime', 'mcp'].filter((k) => urls[k]).map((k) => html`<dt key=${`t${k}`}>${k === 'mcp' ? 'MCP' : k[0].toUpperCase() + k.slice(1)}</dt>
            <dd key=${`d${k}`} class="mono">${urls[k]}</dd>`)}
        </dl>
      </section>
      <section>
        <h2>Keys</h2>
        <h3>anon</h3>
        <p class="hint">Safe in a browser or an app: what it may do is what your policies allow anon.</p>
        <${Code} text=${project.anon_key || ''} label="anon key" />
        <h3>service_role</h3>
        <p class="hint">Bypasses row level security. Keep it on servers; never ship it to a browser.</p>
        ${serviceKey
          ? html`<${Code} text=${serviceKey} label="service_role key" />`
          : project.can_reveal_service_role_key
            ? html`<button type="button" onClick=${reveal} disabled=${busy}>Reveal service_role key</button>`
            : html`<p class="muted">Only admins and owners may see the service_role key.</p>`}
      </section>
      <section>
        <h2>MCP</h2>
        <p class="hint">AI tools connect to ${urls.mcp} with a token: the service_role key builds the backend, a user's token works as that
          user.${serviceKey ? '' : ' Reveal the service_role key to fill it in below.'}</p>
        ${mcpSetups(urls.mcp, token).map(([tool_, where, text]) => html`<div key=${tool_}>
          <h3>${tool_} <span class="muted small">${where}</span></h3>
          <${Code} text=${text} label=${`${tool_} set-up`} />
        </div>`)}
      </section>
      <section>
        <h2>supabase-js</h2>
        ${tables === null && html`<p class="muted">Loading tables…</p>`}
        ${tables && tables.length === 0 && html`<p class="muted">No tables yet.</p>`}
        ${tables && tables.map((d) => html`<div key=${`${d.schema}.${d.name}`}>
          <h3>${d.schema === 'public' ? d.name : `${d.schema}.${d.name}`}</h3>
          <${Code} text=${supabaseSnippet(d, base, project.anon_key || '<anon key>')} label=${`${d.name} snippet`} />
        </div>`)}
      </section>`}
  </main>`;
}

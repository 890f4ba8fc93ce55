// Home: what the app holds (tables, users, files and their size), sign-ins, sign-ups and the
// requests the sidecars answered over the last day as small charts, the latest schema changes, and a quick start.
import { useEffect, useState } from 'preact/hooks';
import { html } from '../html.js';
import { get } from '../api.js';
import { Link, tablePath } from '../router.js';
import { Alert, Code, useAction, when } from '../ui.js';

function bytes(n) {
  if (n === null || n === undefined) return '';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = Number(n);
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 && i ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/** 24 hourly bars as an SVG, with the numbers in a table for screen readers. */
function HourChart({ title, points }) {
  const max = Math.max(1, ...points.map((p) => p.count));
  const total = points.reduce((n, p) => n + p.count, 0);
  const w = 240;
  const h = 48;
  const bar = w / points.length;
  return html`<figure class="chart">
    <figcaption>${title}: <strong>${total}</strong> in the last 24 hours</figcaption>
    <svg width=${w} height=${h} viewBox=${`0 0 ${w} ${h}`} aria-hidden="true">
      ${points.map((p, i) => {
        const bh = Math.round((p.count / max) * (h - 2));
        return html`<rect x=${i * bar + 1} y=${h - bh} width=${bar - 2} height=${bh || 0.5} rx="1"><title>${when(p.hour)}: ${p.count}</title></rect>`;
      })}
    </svg>
    <table class="sr-only"><caption>${title} per hour</caption>
      <tbody>${points.map((p) => html`<tr><th>${when(p.hour)}</th><td>${p.count}</td></tr>`)}</tbody></table>
  </figure>`;
}

export function HomeScreen() {
  const [o, setO] = useState(null);
  const [project, setProject] = useState(null);
  const { error, run } = useAction();
  useEffect(() => {
    run(async () => {
      const [overview, p] = await Promise.all([get('/console/api/overview'), get('/console/api/project')]);
      setO(overview);
      setProject(p);
    });
  }, []);
  const base = project ? project.urls.base : '';
  const quick = project
    ? `import { createClient } from '@supabase/supabase-js'\n\nconst supabase = createClient('${base}', '${project.anon_key}')`
    : '';
  return html`<main id="main" class="main home">
    <h1>Home</h1>
    <${Alert} error=${error} />
    ${o && html`<dl class="stats" aria-label="The app at a glance">
      <div><dt>Tables</dt><dd><${Link} href="/console/tables">${o.tables}<//></dd></div>
      <div><dt>Users</dt><dd><${Link} href="/console/users">${o.users}<//></dd></div>
      <div><dt>Files</dt><dd>${o.files.estimated ? 'about ' : ''}${o.files.count}</dd></div>
      <div><dt>File size</dt><dd>${o.files.estimated ? 'about ' : ''}${bytes(o.files.bytes)}</dd></div>
    </dl>
    <div class="charts">
      <${HourChart} title="Sign-ins" points=${o.sign_ins} />
      <${HourChart} title="Sign-ups" points=${o.sign_ups} />
      <${HourChart} title="Requests" points=${o.requests} />
    </div>
    ${o.requests.some((p) => p.errors) && html`<p class="hint">Server errors (5xx) in the last 24 hours:
      ${o.requests.reduce((n, p) => n + p.errors, 0)}; the sidecars' logs say why (by request id).</p>`}
    <h2>Recent schema changes</h2>
    ${o.recent_changes.length
      ? html`<ul class="changes">${o.recent_changes.map((c) => html`<li>${when(c.at)} · ${c.operation}
          ${c.table && html` · <${Link} href=${tablePath(c.table.replace(/^public\./, ''))}>${c.table}<//>`} · ${c.by}</li>`)}</ul>`
      : html`<p class="muted">None yet: create one on <${Link} href="/console/tables">the Tables screen<//>.</p>`}`}
    ${project && html`<h2>Quick start</h2>
      <p>In a browser app, with supabase-js (see <${Link} href="/console/api-keys">the API screen<//> for a snippet per table and the MCP set-up
        for Claude Code, Cursor, VS Code and Claude Desktop):</p>
      <${Code} text=${quick} label="supabase-js quick start" />
      <p>An AI tool (Claude Code here; Cursor, VS Code and Claude Desktop on <${Link} href="/console/api-keys">the API screen<//>)
        builds on it through MCP, with a service_role key to change the schema or a user's token to work as that user:</p>
      <${Code} text=${`claude mcp add --transport http bknd ${project.urls.mcp} --header "Authorization: Bearer SERVICE_ROLE_KEY"`} label="MCP set-up" />`}
  </main>`;
}

// The web console (/console/) in a real browser: Debian's chromium driven by playwright-core.
// An owner signs in, creates two tables (several types and a many-to-one relation), inserts,
// edits, deletes and filters rows, imports a CSV with broken rows, exports, deletes in bulk, adds an owner policy and views the data as anon and as two
// users, runs SQL (results, an error with its position, read-only), reads the API screen; a
// viewer is refused in the page and by direct calls; cross-site requests, hostile names and a
// huge pasted statement change nothing; signing out ends the session.
//
// Controls are found only by role and accessible name, as console/SPEC.md fixes them. The Rust
// test (tests/tests/console_browser.rs) starts the sidecar and passes BKND_URL, OWNER_EMAIL,
// OWNER_PASSWORD, VIEWER_EMAIL, VIEWER_PASSWORD, ANN_EMAIL, BOB_EMAIL, ANN_ID, BOB_ID, ANON_KEY
// and SCREENSHOTS (where the screenshots go: docs/screenshots with BKND_SCREENSHOTS=1).
// The tests run in order and share one page per member; after a failure the rest are skipped.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { chromium, request as playwrightRequest } from 'playwright-core';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run this through tests/tests/console_browser.rs (make test T=console_browser)`);
  return value;
};
const BKND = env('BKND_URL').replace(/\/$/, '');
const OWNER = { email: env('OWNER_EMAIL'), password: env('OWNER_PASSWORD') };
const VIEWER = { email: env('VIEWER_EMAIL'), password: env('VIEWER_PASSWORD') };
const ANN = { email: env('ANN_EMAIL'), id: env('ANN_ID') };
const BOB = { email: env('BOB_EMAIL'), id: env('BOB_ID') };
const ANON_KEY = env('ANON_KEY');
const SHOTS = env('SCREENSHOTS');

// what the console's own page sends with every state change (console/SPEC.md)
const PAGE_HEADERS = { 'content-type': 'application/json', 'x-bknd-console': '1' };
const NAV = ['Tables', 'SQL', 'Users', 'Storage', 'Webhooks', 'Logs', 'Settings', 'API'];
const TIMEOUT = 15_000;

let browser, server, elsewhere;
let owner, viewer; // { context, page, errors }

// ---------------------------------------------------------------------------------------------
// helpers

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Poll `check` until it answers something truthy; that answer is returned. */
async function until(what, check, timeout = TIMEOUT) {
  const deadline = Date.now() + timeout;
  let last = null;
  for (;;) {
    try {
      const answer = await check();
      if (answer) return answer;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}${last ? ` (last error: ${last.message})` : ''}`);
    await sleep(100);
  }
}

async function member(label) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  context.setDefaultTimeout(TIMEOUT);
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => m.type() === 'error' && errors.push(`console.error: ${m.text()}`));
  return { label, context, page, errors };
}

const button = (page, name) => page.getByRole('button', { name, exact: true });
const link = (page, name) => page.getByRole('link', { name, exact: true });
const textbox = (page, name) => page.getByRole('textbox', { name, exact: true });
const combobox = (page, name) => page.getByRole('combobox', { name, exact: true });
const checkbox = (page, name) => page.getByRole('checkbox', { name, exact: true });
/** "Data", "Structure", "Policies", "History": tabs, or buttons or links acting as tabs. */
const tab = (page, name) =>
  page.getByRole('tab', { name, exact: true }).or(button(page, name)).or(link(page, name)).first();
/** A table's link in the list: named by the table (perhaps schema-qualified, perhaps followed by its estimated rows). */
const tableLink = (page, table) => page.getByRole('link', { name: new RegExp(`^\\s*(public\\.)?${table}\\b`) }).first();

/** The data grid: the table (or grid) whose column headers include `title`. */
const dataGrid = (page) =>
  page
    .getByRole('table')
    .or(page.getByRole('grid'))
    .filter({ has: page.getByRole('columnheader', { name: 'title', exact: true }) });
const cell = (page, name) => page.getByRole('cell', { name, exact: true }).or(page.getByRole('gridcell', { name, exact: true }));
const anyCell = (page) => page.getByRole('cell').or(page.getByRole('gridcell'));
/** The grid's row whose title cell is `title`. */
const rowOf = (page, title) => dataGrid(page).getByRole('row').filter({ has: cell(page, title) });
/** Rows with data cells (not the header row). */
const dataRows = (page) => dataGrid(page).getByRole('row').filter({ has: anyCell(page) });
/** Which of `titles` the grid shows now, as cells. */
async function shownTitles(page, titles) {
  const shown = [];
  for (const t of titles) if ((await dataGrid(page).locator(cell(page, t)).count()) > 0) shown.push(t);
  return shown;
}
const ALL_TITLES = ['ann 1', 'ann 1 edited', 'ann 2', 'bob 1', 'scratch'];

const norm = (s) => String(s ?? '').trim().toLowerCase().replace(/\.\.\.$/, '…');

/** The options of a combobox: a native <select>'s, or a custom one's (opened, read, closed). */
async function optionsOf(page, box) {
  const native = await box.evaluate((el) => el.tagName === 'SELECT');
  if (native) return box.evaluate((el) => [...el.options].map((o, index) => ({ index, label: o.label || o.text, value: o.value })));
  await box.click();
  const options = page.getByRole('option');
  await options.first().waitFor();
  const labels = await options.allInnerTexts();
  await page.keyboard.press('Escape');
  return labels.map((label, index) => ({ index, label, value: label }));
}

/** The option meaning `wanted`: the same label or value; else schema-qualified; else one that starts so. */
function matchOption(options, wanted) {
  const w = norm(wanted);
  return (
    options.find((o) => norm(o.label) === w || norm(o.value) === w) ??
    options.find((o) => norm(o.label).endsWith(`.${w}`) || norm(o.value).endsWith(`.${w}`)) ??
    options.find((o) => norm(o.label).startsWith(w))
  );
}

/** Pick `wanted` in a combobox (native or custom). */
async function choose(page, box, wanted) {
  await box.waitFor();
  const options = await optionsOf(page, box);
  const option = matchOption(options, wanted);
  assert.ok(option, `no option "${wanted}" in ${await box.evaluate((el) => el.getAttribute('aria-label') || el.id || el.tagName)}: ${options.map((o) => o.label).join(', ')}`);
  if (await box.evaluate((el) => el.tagName === 'SELECT')) {
    await box.selectOption({ index: option.index });
  } else {
    await box.click();
    await page.getByRole('option', { name: option.label, exact: true }).click();
  }
}

/** Set a form control to `value`, whatever kind fits the column's type. */
async function setField(page, control, value) {
  await control.waitFor();
  const kind = await control.evaluate((el) => ({
    tag: el.tagName.toLowerCase(),
    type: (el.getAttribute('type') || '').toLowerCase(),
    role: (el.getAttribute('role') || '').toLowerCase(),
  }));
  if ((kind.tag === 'input' && kind.type === 'checkbox') || kind.role === 'checkbox' || kind.role === 'switch') {
    await control.setChecked(Boolean(value));
  } else if (kind.tag === 'select' || kind.role === 'combobox') {
    await choose(page, control, String(value));
  } else {
    await control.fill(typeof value === 'string' ? value : JSON.stringify(value));
  }
}

/**
 * A row form's control for `column`: a textbox, number box, checkbox, switch or select labelled
 * with the column's name (perhaps followed by its type or a mark).
 */
function field(page, column) {
  const name = new RegExp(`^\\s*${column}\\b`);
  return page
    .getByRole('textbox', { name })
    .or(page.getByRole('spinbutton', { name }))
    .or(page.getByRole('checkbox', { name }))
    .or(page.getByRole('switch', { name }))
    .or(page.getByRole('combobox', { name }))
    .first();
}

/** Does `response` answer `match` ({path, method, viewAs, query})? */
function answers(response, match) {
  const req = response.request();
  const url = new URL(response.url());
  const onPath = match.path instanceof RegExp ? match.path.test(url.pathname) : url.pathname.startsWith(match.path);
  if (url.origin !== BKND || !onPath) return false;
  if (match.method && req.method() !== match.method) return false;
  if (match.viewAs !== undefined && norm(req.headers()['x-bknd-view-as'] ?? '') !== norm(match.viewAs)) return false;
  if (match.query && !decodeURIComponent(url.search.replace(/\+/g, ' ')).includes(match.query)) return false;
  return true;
}

/** Do `action` and answer the response to the request it makes that answers `match`. */
async function responding(page, match, action, timeout = TIMEOUT) {
  const pending = page.waitForResponse((r) => answers(r, match), { timeout });
  pending.catch(() => {});
  await action();
  try {
    return await pending;
  } catch {
    throw new Error(`no response to ${match.method ?? ''} ${match.path}${match.query ? ` (${match.query})` : ''} after the action`);
  }
}

async function bodyOf(response) {
  try {
    return await response.json();
  } catch {
    return null;
  }
}

/** Do `action`, expect its request to answer 2xx; answers the body. */
async function succeeding(page, match, action) {
  const response = await responding(page, match, action);
  const body = await bodyOf(response);
  assert.ok(response.ok(), `${match.method} ${match.path}: ${response.status()} ${JSON.stringify(body)}`);
  return body;
}

/** The texts of the alerts shown now. */
async function alerts(page) {
  const texts = [];
  for (const a of await page.getByRole('alert').all()) {
    if (await a.isVisible().catch(() => false)) {
      const t = (await a.innerText().catch(() => '')).trim();
      if (t) texts.push(t);
    }
  }
  return texts;
}

/**
 * Do `action`, which the server (or the page itself, when `mayStayInPage`) refuses: its request
 * answers 4xx and an alert appears that was not there before (or that says the server's message).
 */
async function refused(page, match, action, { mayStayInPage = false } = {}) {
  const before = new Set(await alerts(page));
  const pending = page.waitForResponse((r) => answers(r, match), { timeout: mayStayInPage ? 8000 : TIMEOUT });
  pending.catch(() => {});
  await action();
  let response = null;
  try {
    response = await pending;
  } catch {
    if (!mayStayInPage) throw new Error(`no ${match.method ?? ''} ${match.path} request was made`);
  }
  let body = null;
  if (response) {
    body = await bodyOf(response);
    assert.ok(response.status() >= 400 && response.status() < 500, `expected a refusal from ${match.path}, got ${response.status()} ${JSON.stringify(body)}`);
  }
  const start = typeof body?.message === 'string' ? body.message.slice(0, 24) : null;
  const shown = await until(`an alert (server said ${JSON.stringify(body)})`, async () =>
    (await alerts(page)).find((t) => !before.has(t) || (start && t.includes(start))),
  );
  return { status: response?.status() ?? null, body, shown, response };
}

/** A console API call with a member's cookie (the context's), as the console's page sends it. */
async function api(context, method, pathname, data, headers = PAGE_HEADERS) {
  const response = await context.request.fetch(`${BKND}${pathname}`, {
    method,
    headers: method === 'GET' ? {} : headers,
    data: method === 'GET' ? undefined : JSON.stringify(data ?? {}),
    failOnStatusCode: false,
  });
  let body = null;
  try {
    body = await response.json();
  } catch {
    // 204 or not JSON
  }
  return { status: response.status(), body };
}

/** One value of a read-only SQL query, as the owner, through the console's API. */
async function sqlValue(query) {
  const r = await api(owner.context, 'POST', '/console/api/tools/execute_sql', { query, read_only: true });
  assert.equal(r.status, 200, `${query}: ${JSON.stringify(r.body)}`);
  const row = r.body.result.results[0].rows[0];
  return row ? Object.values(row)[0] : undefined;
}
const notesCount = () => sqlValue('select count(*) as n from notes');
const tableExists = async (name) => (await sqlValue(`select count(*) as n from pg_tables where tablename = '${name.replace(/'/g, "''")}'`)) !== '0';

/** The TOTP code (RFC 6238, SHA-1, 6 digits) for a base32 secret, `offset` steps from now. */
function totpCode(secret, offset = 0) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of secret.replace(/=+$/, '')) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) key.push(parseInt(bits.slice(i, i + 8), 2));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 1000 / 30) + offset));
  const d = createHmac('sha1', Buffer.from(key)).update(counter).digest();
  const o = d[19] & 0xf;
  const n = ((d[o] & 0x7f) << 24) | (d[o + 1] << 16) | (d[o + 2] << 8) | d[o + 3];
  return String(n % 1_000_000).padStart(6, '0');
}

async function shot(page, name) {
  await sleep(300); // let the last render settle
  // a focused button at a wide grid's right end scrolls it: show its first columns
  await page.evaluate(() => document.querySelectorAll('.grid-wrap').forEach((el) => (el.scrollLeft = 0)));
  await page.screenshot({ path: path.join(SHOTS, name) });
}

async function signIn(page, who) {
  await page.goto(`${BKND}/console/`);
  await textbox(page, 'Email').fill(who.email);
  await page.getByLabel('Password', { exact: true }).fill(who.password);
  await succeeding(page, { path: '/console/api/sign-in', method: 'POST' }, () => button(page, 'Sign in').click());
  await link(page, 'Tables').waitFor();
}

/** The new-table form, open on the Tables screen. */
async function openNewTable(page) {
  await link(page, 'Tables').click();
  const name = textbox(page, 'Table name');
  if (!(await name.isVisible())) await button(page, 'New table').click();
  await name.waitFor();
  return name;
}

/** Fill the i-th column of the new-table form, adding a column row when there is none. */
async function column(page, i, { name, type, required, references }) {
  const names = page.getByRole('textbox', { name: 'Column name', exact: true });
  if ((await names.count()) <= i) {
    await button(page, 'Add column').click();
    await until(`column row ${i + 1}`, async () => (await names.count()) > i);
  }
  await names.nth(i).fill(name);
  const type_box = combobox(page, 'Type').nth(i);
  if (references) {
    // a reference: type "reference" where the Type list has it, then the table in References
    if (matchOption(await optionsOf(page, type_box), 'reference')) await choose(page, type_box, 'reference');
    // References is per column or only on a reference column: this column is the last either way
    await choose(page, combobox(page, 'References').last(), references);
  } else if (type) {
    await choose(page, type_box, type);
  }
  if (required) await checkbox(page, 'Required').nth(i).check();
}

async function createTable(page, table, columns) {
  const name = await openNewTable(page);
  await name.fill(table);
  for (const [i, c] of columns.entries()) await column(page, i, c);
  const body = await succeeding(page, { path: '/console/api/tools/create_table', method: 'POST' }, () => button(page, 'Create table').click());
  return body;
}

async function openTable(page, table, view = 'Data') {
  await link(page, 'Tables').click();
  await tableLink(page, table).click();
  await tab(page, view).click();
  if (view === 'Data') await page.getByRole('columnheader', { name: 'title', exact: true }).waitFor();
}

/** The SQL editor (CodeMirror): replace its text by typing. */
async function typeSql(page, sql) {
  const editor = textbox(page, 'SQL');
  await editor.click();
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.press('Backspace');
  await page.keyboard.type(sql);
}

const runSql = (page) => button(page, 'Run').click();
const SQL_CALL = { path: '/console/api/tools/execute_sql', method: 'POST' };

/** The SQL screen's results table with column `header`. */
const results = (page, header) =>
  page.getByRole('table').or(page.getByRole('grid')).filter({ has: page.getByRole('columnheader', { name: header, exact: true }) });

/** JWTs on the page: in its text and in its inputs' values. */
async function jwtsShown(page) {
  const text = await page.evaluate(() =>
    [document.body.innerText, ...[...document.querySelectorAll('input, textarea')].map((e) => e.value)].join('\n'),
  );
  return (text.match(/eyJ[\w-]+\.[\w-]+\.[\w-]+/g) ?? []).map((jwt) => ({
    jwt,
    claims: JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString()),
  }));
}

async function sessionCookie(context) {
  return (await context.cookies()).find((c) => c.name === 'bknd_console') ?? null;
}

// ---------------------------------------------------------------------------------------------
// ordered steps: a failure skips the rest (they build on it) and leaves a picture of each page

let failed = null;
const failures = fs.mkdtempSync(path.join(os.tmpdir(), 'bknd-console-failure-'));

function step(name, fn) {
  test(name, { timeout: 180_000 }, async (t) => {
    if (failed) {
      t.skip(`skipped: "${failed}" failed`);
      return;
    }
    try {
      await fn(t);
    } catch (e) {
      failed = name;
      for (const m of [owner, viewer]) {
        if (!m || m.page.isClosed()) continue;
        const file = path.join(failures, `${m.label}.png`);
        await m.page.screenshot({ path: file, fullPage: true }).catch(() => {});
        const text = await m.page.evaluate(() => document.body?.innerText ?? '').catch((err) => `(no text: ${err.message})`);
        console.error(`--- ${m.label}'s page at ${m.page.url()} (screenshot ${file}):\n${text.slice(0, 4000)}`);
        if (m.errors.length) console.error(`--- ${m.label}'s page errors:\n${m.errors.join('\n')}`);
      }
      throw e;
    }
  });
}

before(async () => {
  fs.mkdirSync(SHOTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  // another site (localhost, not 127.0.0.1): a form that posts to the console, and a page whose
  // script tries to call it
  server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    if (req.url === '/form') {
      // enctype text/plain makes the body {"table":"planted",...,"x":"="} : JSON, but no header
      const field = '{"table":"planted","columns":{"a":{"type":"text"}},"x":"';
      res.end(`<!doctype html><form method="post" enctype="text/plain" action="${BKND}/console/api/tools/create_table">
        <input type="hidden" name='${field}' value='"}'></form>
        <script>addEventListener('load', () => setTimeout(() => document.forms[0].submit(), 50))</script>`);
    } else {
      res.end('<!doctype html><title>elsewhere</title>');
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  elsewhere = `http://localhost:${server.address().port}`;
  owner = await member('owner');
});

after(async () => {
  await browser?.close();
  server?.close();
});

// ---------------------------------------------------------------------------------------------

step('an auth email link that lands on / is handed on to the welcome page, not the console', async () => {
  const { page } = owner;
  await page.goto(`${BKND}/#access_token=not-a-real-token&type=magiclink`);
  await until('the welcome page', async () => new URL(page.url()).pathname === '/welcome');
  // the welcome page read the link (and took the token out of the address bar)
  await page.getByText('bknd is running').first().waitFor();
  await page.getByText(/signed in \(magiclink\)/).first().waitFor();
  // and PKCE's ?code= too, with its query kept through the redirect
  await page.goto(`${BKND}/?code=not-a-real-code`);
  await until('the welcome page again', async () => new URL(page.url()).pathname === '/welcome');
  await page.getByText(/sign-in code arrived/).first().waitFor();
});

step('without a session the API answers 401 and the page asks to sign in; a wrong password is refused', async () => {
  const { context, page } = owner;
  const tools = await api(context, 'POST', '/console/api/tools/list_tables', {});
  assert.equal(tools.status, 401, JSON.stringify(tools.body));
  assert.equal(tools.body?.code, 'no_session');
  assert.equal((await api(context, 'GET', '/console/api/session')).status, 401);

  await page.goto(`${BKND}/`);
  assert.ok(new URL(page.url()).pathname.startsWith('/console/'), `/ leads to the console, not ${page.url()}`);
  await textbox(page, 'Email').waitFor();
  await page.getByLabel('Password', { exact: true }).waitFor();
  await button(page, 'Sign in').waitFor();
  assert.equal(await link(page, 'Tables').count(), 0, 'no navigation before signing in');

  await textbox(page, 'Email').fill(OWNER.email);
  await page.getByLabel('Password', { exact: true }).fill('not the password at all');
  const wrong = await refused(page, { path: '/console/api/sign-in', method: 'POST' }, () => button(page, 'Sign in').click());
  assert.equal(wrong.status, 401);
  assert.equal(wrong.body?.code, 'invalid_credentials');
  assert.equal(await sessionCookie(context), null, 'no session cookie after a wrong password');
  assert.equal((await api(context, 'GET', '/console/api/session')).status, 401);
  await button(page, 'Sign in').waitFor();
});

step('the owner signs in and sees the navigation', async () => {
  const { context, page } = owner;
  await page.getByLabel('Password', { exact: true }).fill(OWNER.password);
  const signed = await succeeding(page, { path: '/console/api/sign-in', method: 'POST' }, () => button(page, 'Sign in').click());
  assert.equal(signed.member.role, 'owner');
  for (const name of NAV) await link(page, name).waitFor();
  await button(page, 'Sign out').waitFor();
  const cookie = await sessionCookie(context);
  assert.ok(cookie, 'a session cookie');
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.sameSite, 'Strict');
  assert.equal((await api(context, 'GET', '/console/api/session')).body?.member?.email, OWNER.email);
  await link(page, 'Storage').click();
  await button(page, 'New bucket').waitFor();
  await link(page, 'Tables').click();
  await button(page, 'New table').waitFor();
});

step('a table with several types and a relation', async () => {
  const { page } = owner;
  await createTable(page, 'tags', [{ name: 'label', type: 'text', required: true }]);
  // owner_id comes with every table (create_table's owner option): it is not a column to add
  await createTable(page, 'notes', [
    { name: 'title', type: 'text', required: true },
    { name: 'done', type: 'boolean' },
    { name: 'score', type: 'integer' },
    { name: 'meta', type: 'json' },
    { name: 'tag_id', references: 'tags' },
  ]);
  await link(page, 'Tables').click();
  await tableLink(page, 'tags').waitFor();
  await tableLink(page, 'notes').waitFor();

  // what the database has now
  const r = await api(owner.context, 'POST', '/console/api/tools/execute_sql', {
    query:
      "select attname as c, format_type(atttypid, atttypmod) || case when attnotnull then ' not null' else '' end as t " +
      "from pg_attribute where attrelid = 'public.notes'::regclass and attnum > 0 and not attisdropped",
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const columns = Object.fromEntries(r.body.result.results[0].rows.map((row) => [row.c, row.t]));
  assert.equal(columns.title, 'text not null');
  assert.equal(columns.done, 'boolean');
  assert.equal(columns.score, 'integer');
  assert.equal(columns.meta, 'jsonb');
  assert.equal(columns.tag_id, 'uuid');
  assert.equal(columns.owner_id, 'uuid');
  assert.equal(columns.id, 'uuid not null');
  assert.equal(
    await sqlValue("select string_agg(confrelid::regclass::text, ',') as t from pg_constraint where conrelid = 'public.notes'::regclass and contype = 'f'"),
    'tags',
    'notes.tag_id references tags',
  );
  await shot(page, 'console-tables.png');
});

step('rows: insert, edit, delete and filter in the grid', async () => {
  const { page } = owner;
  await openTable(page, 'notes');
  for (const header of ['id', 'title', 'done', 'score', 'meta', 'tag_id', 'owner_id']) {
    await page.getByRole('columnheader', { name: header, exact: true }).waitFor();
  }
  const rows = [
    { title: 'ann 1', done: true, score: 41, meta: { mood: 'happy' }, owner_id: ANN.id },
    { title: 'bob 1', done: false, score: 42, owner_id: BOB.id },
    { title: 'ann 2', done: true, score: 43, owner_id: ANN.id },
    { title: 'scratch', done: false, score: 44, owner_id: BOB.id },
  ];
  for (const row of rows) {
    await button(page, 'Insert row').click();
    for (const [name, value] of Object.entries(row)) await setField(page, field(page, name), value);
    await succeeding(page, { path: '/console/api/rest/notes', method: 'POST' }, () => button(page, 'Save').click());
    await rowOf(page, row.title).waitFor();
  }
  // the cells show the values
  for (const row of rows) {
    const text = await rowOf(page, row.title).innerText();
    assert.ok(text.includes(String(row.score)), `the row of ${row.title} shows its score: ${text}`);
  }
  await page.getByText(/about [\d,]+ rows?/).first().waitFor();
  // and the database has them as typed
  const stored = await api(owner.context, 'GET', '/console/api/rest/notes?select=title,done,score,meta,owner_id&order=score.asc');
  assert.equal(stored.status, 200, JSON.stringify(stored.body));
  assert.deepEqual(stored.body.map((r) => [r.title, r.done === true, r.score, r.owner_id]), rows.map((r) => [r.title, r.done, r.score, r.owner_id]));
  assert.deepEqual(stored.body[0].meta, { mood: 'happy' });

  // edit
  await rowOf(page, 'ann 1').getByRole('button', { name: /^edit\b/i }).click();
  await setField(page, field(page, 'title'), 'ann 1 edited');
  await succeeding(page, { path: '/console/api/rest/notes', method: 'PATCH' }, () => button(page, 'Save').click());
  await rowOf(page, 'ann 1 edited').waitFor();
  await until('the old title to go', async () => (await rowOf(page, 'ann 1').count()) === 0);

  // delete, after confirming
  await rowOf(page, 'scratch').getByRole('button', { name: /^delete\b/i }).click();
  await succeeding(page, { path: '/console/api/rest/notes', method: 'DELETE' }, () =>
    page.getByRole('button', { name: /^confirm delete\b/i }).click(),
  );
  await until('the deleted row to go', async () => (await rowOf(page, 'scratch').count()) === 0);
  assert.equal(await notesCount(), '3');

  // filter with a REST operator
  await textbox(page, 'Filter').fill('title=eq.ann 2');
  await succeeding(page, { path: '/console/api/rest/notes', method: 'GET', query: 'title=eq.ann 2' }, () => button(page, 'Apply filter').click());
  await until('one row, ann 2', async () => {
    const shown = await shownTitles(page, ALL_TITLES);
    return shown.length === 1 && shown[0] === 'ann 2' && (await dataRows(page).count()) === 1;
  });
  await textbox(page, 'Filter').fill('');
  await succeeding(page, { path: '/console/api/rest/notes', method: 'GET' }, () => button(page, 'Apply filter').click());
  await until('the three rows again', async () => (await shownTitles(page, ALL_TITLES)).join() === 'ann 1 edited,ann 2,bob 1');
  await shot(page, 'console-data.png');
});

step('CSV import with broken rows, export, bulk delete', async () => {
  const { page } = owner;
  await link(page, 'Tables').click();
  await tableLink(page, 'tags').click();
  await tab(page, 'Data').click();
  await page.getByRole('columnheader', { name: 'label', exact: true }).waitFor();
  // records 4 (not a uuid), 5 (no label: NOT NULL) and 6 (three fields) are broken
  const csv = ['label,owner_id', 'red,', '"green, dark",', 'broken,not-a-uuid', `,${ANN.id}`, 'blue,,extra', '"multi\nline",', ''].join('\r\n');
  await page.getByLabel('Import CSV').setInputFiles({ name: 'tags.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
  await page.getByText('Imported 3 of 6 rows.').waitFor();
  const failedLines = await page.locator('.import li').allInnerTexts();
  assert.deepEqual(failedLines.map((t) => t.match(/^Line (\d+):/)?.[1]), ['4', '5', '6'], failedLines.join('\n'));
  assert.match(failedLines[2], /expected 2 fields, found 3/);
  assert.equal(await sqlValue("select string_agg(replace(label, E'\\n', ' '), '|' order by label) from tags"), 'green, dark|multi line|red');
  await shot(page, 'console-import.png');
  await button(page, 'Close').click();

  // export: every row, as CSV a spreadsheet reads back
  const tagsGrid = page.getByRole('table').filter({ has: page.getByRole('columnheader', { name: 'label', exact: true }) });
  await tagsGrid.locator(cell(page, 'red')).waitFor();
  const [download] = await Promise.all([page.waitForEvent('download'), button(page, 'Export CSV').click()]);
  assert.equal(download.suggestedFilename(), 'tags.csv');
  const exported = fs.readFileSync(await download.path(), 'utf8');
  const [header, ...lines] = exported.split('\r\n');
  assert.ok(header.split(',').includes('label'), header);
  assert.equal(lines.filter((l) => l.startsWith('"green, dark"') || l.includes(',"green, dark"')).length, 1, exported);
  assert.ok(exported.includes('"multi\nline"'), `a quoted newline: ${exported}`);

  // bulk delete: two rows picked by their checkboxes
  for (const label of ['red', 'green, dark']) {
    await tagsGrid.getByRole('row').filter({ has: cell(page, label) }).getByRole('checkbox').check();
  }
  await button(page, 'Delete selected').click();
  await succeeding(page, { path: '/console/api/rest/tags', method: 'DELETE' }, () => page.getByRole('button', { name: /^confirm delete\b/i }).click());
  await until('the two rows to go', async () => (await tagsGrid.locator(cell(page, 'red')).count()) === 0);
  assert.equal(await sqlValue("select string_agg(replace(label, E'\\n', ' '), '|') from tags"), 'multi line');
});

step('an owner policy, and the grid viewed as anon and as two users', async () => {
  const { page, context } = owner;
  await openTable(page, 'notes', 'Policies');
  const deletes = page.getByRole('button', { name: /^delete\b/i });
  const before = await deletes.count();
  await button(page, 'Add policy').click();
  await choose(page, combobox(page, 'Operation'), 'select');
  await choose(page, combobox(page, 'Role'), 'authenticated');
  await choose(page, combobox(page, 'Rule'), 'owner');
  await succeeding(page, { path: '/console/api/tools/allow', method: 'POST' }, () => button(page, 'Save policy').click());
  await until('the policy with its Delete button', async () => (await deletes.count()) > before);
  const policies = await api(context, 'POST', '/console/api/tools/list_policies', { table: 'notes' });
  assert.equal(policies.status, 200, JSON.stringify(policies.body));
  assert.match(JSON.stringify(policies.body.result), /authenticated/);
  assert.match(JSON.stringify(policies.body.result), /owner_id|owner/);
  await shot(page, 'console-policies.png');

  // every table's policies at a glance, on the Tables screen
  await link(page, 'Tables').click();
  const overview = page.getByRole('table', { name: 'Policies of every table', exact: true });
  const notesRow = overview.getByRole('row').filter({ has: page.getByRole('rowheader', { name: 'notes', exact: true }) });
  await notesRow.getByText('authenticated: owner').waitFor();
  assert.equal(await notesRow.getByText('authenticated: owner').count(), 1, 'select only');
  await overview.getByRole('row').filter({ has: page.getByRole('rowheader', { name: 'tags', exact: true }) }).getByText('no access').first().waitFor();
  await tableLink(page, 'notes').click();

  await tab(page, 'Data').click();
  await page.getByRole('columnheader', { name: 'title', exact: true }).waitFor();
  const viewAs = combobox(page, 'View as');
  const seen = async (who, pick, want) => {
    const response = await responding(page, { path: '/console/api/rest/notes', method: 'GET', viewAs: who }, pick);
    const body = await bodyOf(response);
    assert.equal(response.status(), 200, `${who}: ${JSON.stringify(body)}`);
    assert.deepEqual(body.map((r) => r.title).sort(), want, `the API as ${who}`);
    await until(`the grid as ${who} to show ${want.join(', ') || 'nothing'}`, async () => (await shownTitles(page, ALL_TITLES)).join() === want.join());
  };
  await seen('anon', () => choose(page, viewAs, 'anon'), []);
  await seen('authenticated', () => choose(page, viewAs, 'authenticated'), []);
  await choose(page, viewAs, 'User…');
  await textbox(page, 'User email').fill(ANN.email);
  await seen(`user:${ANN.email}`, () => button(page, 'Apply').click(), ['ann 1 edited', 'ann 2']);
  await shot(page, 'console-view-as.png');
  await textbox(page, 'User email').fill(BOB.email);
  await seen(`user:${BOB.email}`, () => button(page, 'Apply').click(), ['bob 1']);
  await seen('', () => choose(page, viewAs, 'Member (no RLS)'), ['ann 1 edited', 'ann 2', 'bob 1']);

  // the same rows as the REST API gives the app's anon key: none
  const anon = await context.request.get(`${BKND}/rest/v1/notes?select=title`, { headers: { apikey: ANON_KEY, authorization: `Bearer ${ANON_KEY}` } });
  assert.equal(anon.status(), 200);
  assert.deepEqual(await anon.json(), []);
});

step('SQL: results, an error with its position, read-only by default; the API screen', async () => {
  const { page } = owner;
  await link(page, 'SQL').click();
  await textbox(page, 'SQL').waitFor();
  assert.equal(await checkbox(page, 'Read only').isChecked(), true, 'read-only by default');

  await typeSql(page, 'select count(*) as n from notes');
  await succeeding(page, SQL_CALL, () => runSql(page));
  await results(page, 'n').locator(cell(page, '3')).waitFor();

  await typeSql(page, 'select nope from notes');
  const wrong = await refused(page, SQL_CALL, () => runSql(page));
  assert.equal(wrong.status, 400);
  assert.match(wrong.shown, /nope/);
  assert.match(wrong.shown, /8/, `the error's position (character 8): ${wrong.shown}`);

  await typeSql(page, 'delete from notes');
  const ro = await refused(page, SQL_CALL, () => runSql(page));
  assert.match(ro.shown, /read-only/i);
  assert.equal(await notesCount(), '3', 'a read-only delete deletes nothing');

  await typeSql(page, 'select count(*) as n from notes');
  await succeeding(page, SQL_CALL, () => runSql(page));
  await results(page, 'n').locator(cell(page, '3')).waitFor();
  await shot(page, 'console-sql.png');

  // API: the URLs, a working anon key, the snippets and MCP set-up; the service_role key hidden until revealed
  await link(page, 'API').click();
  const anon = await until('the anon key on the API screen', async () => (await jwtsShown(page)).find((k) => k.claims.role === 'anon'));
  assert.equal((await jwtsShown(page)).filter((k) => k.claims.role === 'service_role').length, 0, 'the service_role key is hidden');
  const text = await page.evaluate(() => document.body.innerText);
  assert.ok(text.includes(`${BKND}/rest/v1`), 'the REST URL');
  for (const client of ['Claude Code', 'Cursor', 'VS Code', 'Claude Desktop']) assert.ok(text.includes(client), `MCP set-up for ${client}`);
  assert.match(text, /createClient/, 'a supabase-js snippet');
  const rest = await owner.context.request.get(`${BKND}/rest/v1/notes?select=title`, { headers: { apikey: anon.jwt, authorization: `Bearer ${anon.jwt}` } });
  assert.equal(rest.status(), 200, 'the anon key shown works');
  await shot(page, 'console-api.png');
  await succeeding(page, { path: '/console/api/project/service-role-key', method: 'POST' }, () => button(page, 'Reveal service_role key').click());
  await until('the service_role key', async () => (await jwtsShown(page)).some((k) => k.claims.role === 'service_role'));
});

/** A password sign-in through the auth API, as an app would: the status. */
async function appSignIn(email, password) {
  const r = await fetch(`${BKND}/auth/v1/token?grant_type=password`, {
    method: 'POST',
    headers: { apikey: ANON_KEY, 'content-type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  return r.status;
}

step('users: add one, ban and unban, delete; the sign-in through /auth/v1 follows', async () => {
  const { page } = owner;
  const email = 'carol@example.com';
  const password = 'carol password 1';
  await link(page, 'Users').click();
  await page.getByRole('heading', { name: 'Users', exact: true }).waitFor();
  await button(page, 'Add user').click();
  await textbox(page, 'Email').fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await succeeding(page, { path: '/console/api/users', method: 'POST' }, () => button(page, 'Create user').click());
  const usersGrid = page.getByRole('table', { name: 'Users' });
  const carol = usersGrid.getByRole('button', { name: email, exact: true });
  await carol.waitFor();
  assert.equal(await appSignIn(email, password), 200, 'the new user signs in');

  // an invitation: the user exists, unconfirmed, and is mailed a link to choose a password
  await button(page, 'Add user').click();
  await textbox(page, 'Email').fill('dave@example.com');
  await succeeding(page, { path: '/console/api/users/invite', method: 'POST' }, () => button(page, 'Invite by email').click());
  await page.getByText('User dave@example.com invited', { exact: false }).waitFor();
  await usersGrid.getByRole('button', { name: 'dave@example.com', exact: true }).waitFor();

  await carol.click();
  await page.getByRole('heading', { name: email }).waitFor();
  await succeeding(page, { path: /\/console\/api\/users\/[^/]+\/ban$/, method: 'POST' }, () => button(page, 'Ban').click());
  await until('the user to show as banned', async () => (await usersGrid.getByRole('row').filter({ hasText: email }).textContent()).includes('banned'));
  assert.notEqual(await appSignIn(email, password), 200, 'a banned user is refused');
  if (!(await button(page, 'Unban').isVisible())) await carol.click();
  await succeeding(page, { path: /\/console\/api\/users\/[^/]+\/unban$/, method: 'POST' }, () => button(page, 'Unban').click());
  assert.equal(await appSignIn(email, password), 200, 'unbanned, the user signs in again');
  if (SHOTS) await shot(page, 'console-users.png');
  // Home counts the users, and the sign-ins of the last day
  await link(page, 'bknd').click();
  await page.getByRole('heading', { name: 'Home', exact: true }).waitFor();
  await page.getByText('Sign-ins:', { exact: false }).waitFor();
  if (SHOTS) await shot(page, 'console-home.png');
  await link(page, 'Users').click();
  await page.getByRole('table', { name: 'Users' }).waitFor();

  if (!(await button(page, 'Delete').isVisible())) await carol.click();
  await button(page, 'Delete').click();
  await succeeding(page, { path: /\/console\/api\/users\/[^/]+$/, method: 'DELETE' }, () => page.getByRole('button', { name: 'Confirm delete' }).click());
  await until('the user to go', async () => (await carol.count()) === 0);
  assert.notEqual(await appSignIn(email, password), 200, 'a deleted user cannot sign in');
});

step('logs: auth events and the members\' actions, newest first, filtered', async () => {
  const { page } = owner;
  await link(page, 'Logs').click();
  const entries = page.getByRole('table', { name: 'Log entries' });
  await entries.getByRole('cell', { name: 'user_deleted', exact: true }).first().waitFor();
  // carol's sign-ins, by her email? she is gone: by action instead
  await textbox(page, 'Action').fill('login');
  await responding(page, { path: '/console/api/logs', query: 'action=login' }, () => button(page, 'Apply filters').click());
  await until('only sign-ins to show', async () => {
    const actions = await entries.locator('tbody tr td:nth-child(2)').allTextContents();
    return actions.length > 0 && actions.every((a) => a === 'login');
  });
  await textbox(page, 'Action').fill('');
  await choose(page, combobox(page, 'Log'), 'Console members');
  await button(page, 'Apply filters').click();
  await entries.getByRole('cell', { name: 'user:delete', exact: true }).first().waitFor();
  await entries.getByRole('cell', { name: 'tool:create_table', exact: true }).first().waitFor();
  if (SHOTS) await shot(page, 'console-logs.png');
});

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');
// a 1x1 PNG, for the image preview
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');

step('storage: a bucket, a 20 MiB resumable upload that survives a reload, a folder, download, preview, signed URL, move, policies, delete', async () => {
  const { page } = owner;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bknd-console-files-'));
  const big = randomBytes(20 * 1024 * 1024);
  const bigFile = path.join(dir, 'big.bin');
  fs.writeFileSync(bigFile, big);
  const photos = path.join(dir, 'photos');
  fs.mkdirSync(photos);
  fs.writeFileSync(path.join(photos, 'dot.png'), PNG);
  for (let i = 1; i <= 5; i += 1) fs.writeFileSync(path.join(photos, `note-${i}.txt`), `note ${i}\n`);

  await link(page, 'Storage').click();
  await button(page, 'New bucket').click();
  await textbox(page, 'Bucket name').fill('media');
  assert.equal(await checkbox(page, 'Public').isChecked(), false, 'buckets are private unless chosen');
  await succeeding(page, { path: '/console/api/storage/bucket', method: 'POST' }, () => button(page, 'Create bucket').click());
  await page.getByRole('heading', { name: /^media/ }).waitFor();
  await page.waitForURL(/\/console\/storage\/media$/);

  // a large file goes resumable; its second chunk is cut off, the page reloaded, the same file
  // chosen again: the upload goes on from where the server stopped
  const cut = async (route) => {
    const r = route.request();
    if (r.method() === 'PATCH' && r.headers()['upload-offset'] !== '0') await route.abort('connectionreset');
    else await route.continue();
  };
  await page.route('**/console/api/storage/upload/resumable/**', cut);
  await page.getByLabel('Upload files', { exact: true }).setInputFiles(bigFile);
  await page.getByText(/failed: the upload was cut off/).waitFor();
  await page.unroute('**/console/api/storage/upload/resumable/**', cut);
  await page.reload();
  await page.getByRole('heading', { name: /^media/ }).waitFor();
  await page.getByLabel('Upload files', { exact: true }).setInputFiles(bigFile);
  await page.getByText(/resumed from 6\.0 MB/).waitFor();
  await page.getByText('1 file uploaded.').waitFor({ timeout: 60_000 });
  const files = page.getByRole('table', { name: 'Files' });
  await files.getByRole('button', { name: 'big.bin', exact: true }).waitFor();

  // a folder of small files
  await page.getByLabel('Upload folder', { exact: true }).setInputFiles(photos);
  await page.getByText('6 files uploaded.').waitFor();
  await files.getByRole('link', { name: 'photos/', exact: true }).click();
  await page.waitForURL(/\/console\/storage\/media\/photos$/);
  for (const name of ['dot.png', 'note-1.txt', 'note-5.txt']) await files.getByRole('button', { name, exact: true }).waitFor();
  await files.getByRole('button', { name: 'dot.png', exact: true }).click();
  const preview = page.getByRole('img', { name: 'Preview of photos/dot.png' });
  await until('the image preview to load', () => preview.evaluate((img) => img.complete && img.naturalWidth === 1));
  if (SHOTS) await shot(page, 'console-storage.png');

  // download, compared byte for byte
  await page.getByRole('navigation', { name: 'Folder' }).getByRole('link', { name: 'media', exact: true }).click();
  await page.waitForURL(/\/console\/storage\/media$/);
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download big.bin', exact: true }).click()]);
  assert.equal(sha256(fs.readFileSync(await download.path())), sha256(big), 'the download is the upload');

  // a signed URL, fetched without any session or key
  await files.getByRole('button', { name: 'big.bin', exact: true }).click();
  await choose(page, combobox(page, 'Expires in'), '1 minute');
  await button(page, 'Create signed URL').click();
  const signed = await until('a signed URL', async () => (await textbox(page, 'Signed URL').inputValue()) || null);
  assert.ok(signed.startsWith(`${BKND}/storage/v1/object/sign/media/big.bin?token=`), signed);
  const fetched = await fetch(signed);
  assert.equal(fetched.status, 200);
  assert.equal(sha256(Buffer.from(await fetched.arrayBuffer())), sha256(big));

  // move into a folder
  await button(page, 'Move big.bin').click();
  await textbox(page, 'New path').fill('archive/big.bin');
  await succeeding(page, { path: '/console/api/storage/object/move', method: 'POST' }, () => button(page, 'Move file').click());
  await files.getByRole('link', { name: 'archive/', exact: true }).waitFor();
  assert.equal(await files.getByRole('button', { name: 'big.bin', exact: true }).count(), 0);

  // a policy from the presets: anon may read the bucket's files, then no more
  const anonList = async () => {
    const r = await fetch(`${BKND}/storage/v1/object/list/media`, {
      method: 'POST',
      headers: { apikey: ANON_KEY, authorization: `Bearer ${ANON_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ prefix: 'photos' }),
    });
    return (await r.json()).length;
  };
  assert.equal(await anonList(), 0, 'no policy: anon sees nothing');
  await button(page, 'Policies').click();
  const policies = page.getByRole('region', { name: 'Bucket policies' });
  await policies.getByText('No policies').waitFor();
  await choose(page, combobox(page, 'Role'), 'anon');
  await choose(page, combobox(page, 'Rule'), 'everyone with the role');
  await succeeding(page, { path: '/console/api/tools/allow_storage', method: 'POST' }, () => button(page, 'Add policy').click());
  await policies.getByRole('cell', { name: 'anon', exact: true }).waitFor();
  assert.equal(await anonList(), 6);
  await policies.getByRole('button', { name: /^Drop / }).click();
  await policies.getByText('No policies').waitFor();
  assert.equal(await anonList(), 0);

  // delete one file, then the bucket (confirmed by its name)
  await files.getByRole('link', { name: 'photos/', exact: true }).click();
  await button(page, 'Delete note-1.txt').click();
  await succeeding(page, { path: '/console/api/storage/object/media', method: 'DELETE' }, () => button(page, 'Confirm delete').click());
  await until('the file to go', async () => (await files.getByRole('button', { name: 'note-1.txt', exact: true }).count()) === 0);
  await button(page, 'Delete bucket').click();
  const confirm = button(page, 'Delete');
  assert.equal(await confirm.isDisabled(), true, 'not before the name is typed');
  await textbox(page, 'Type media to confirm').fill('media');
  await succeeding(page, { path: '/console/api/storage/bucket/media', method: 'DELETE' }, () => confirm.click());
  await page.waitForURL(/\/console\/storage$/);
  await until('the bucket to leave the list', async () => (await page.getByRole('complementary', { name: 'Buckets' }).getByRole('link', { name: 'media' }).count()) === 0);

  // every change is in the members' log
  const log = await (await page.request.get(`${BKND}/console/api/logs?log=console&limit=200`)).json();
  const actions = (log.entries || log).map((e) => `${e.action} ${e.target}`);
  for (const expected of ['storage:POST bucket', 'storage:POST upload/resumable', 'storage:POST object/move', 'storage:DELETE object/media', 'storage:DELETE bucket/media']) {
    assert.ok(actions.includes(expected), `${expected} in ${actions.slice(0, 30).join(', ')}`);
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

step('team: an owner invites a developer, who sets a password through the link and signs in', async () => {
  const { page } = owner;
  const dana = { email: 'dana@example.com', password: 'dana password 1' };
  await link(page, 'Settings').click();
  await page.getByRole('heading', { name: 'Team' }).waitFor();
  await page.getByRole('table', { name: 'Members' }).getByRole('cell', { name: VIEWER.email, exact: true }).waitFor();
  await textbox(page, 'Member email').fill(dana.email);
  await choose(page, combobox(page, 'Member role'), 'developer');
  const invited = await succeeding(page, { path: '/console/api/members', method: 'POST' }, () => button(page, 'Invite').click());
  assert.match(invited.link, /\/console\/set-password#token=/);
  await page.getByLabel('invitation link').waitFor();
  assert.equal((await page.getByLabel('invitation link').textContent()).trim(), invited.link);
  await combobox(page, `Role for ${dana.email}`).waitFor();
  if (SHOTS) await shot(page, 'console-team.png');

  const newcomer = await member('dana');
  try {
    await newcomer.page.goto(invited.link);
    await newcomer.page.getByLabel('New password', { exact: true }).fill(dana.password);
    await succeeding(newcomer.page, { path: '/console/api/set-password', method: 'POST' }, () => button(newcomer.page, 'Set password').click());
    await signIn(newcomer.page, dana);
    // a developer sees the team but no owner's controls
    await link(newcomer.page, 'Settings').click();
    await newcomer.page.getByRole('table', { name: 'Members' }).waitFor();
    assert.equal(await button(newcomer.page, 'Invite').count(), 0);
    // and the database refuses what the page does not offer
    const tried = await api(newcomer.context, 'POST', '/console/api/members', { email: 'eve@example.com', role: 'owner' });
    assert.equal(tried.status, 403, `a developer cannot invite members: ${JSON.stringify(tried.body)}`);
  } finally {
    await newcomer.context.close();
  }
  // the owner removes dana again
  await button(page, `Remove ${dana.email}`).click();
  await succeeding(page, { path: '/console/api/members/', method: 'DELETE' }, () => button(page, 'Confirm remove').click());
  await until('dana to go', async () => (await page.getByRole('table', { name: 'Members' }).getByRole('cell', { name: dana.email, exact: true }).count()) === 0);
});

step('auth settings: sign-ups turned off in Settings are refused by /auth/v1, and on again', async () => {
  const { page } = owner;
  const signUp = async (email) =>
    (await fetch(`${BKND}/auth/v1/signup`, {
      method: 'POST',
      headers: { apikey: ANON_KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: 'a user password 1' }),
    })).status;
  await link(page, 'Settings').click();
  await page.getByRole('heading', { name: 'Auth', exact: true }).waitFor();
  await checkbox(page, 'Turn off new sign-ups').check();
  await succeeding(page, { path: '/console/api/auth-settings', method: 'POST' }, () => button(page, 'Save auth settings').click());
  assert.notEqual(await signUp('erin@example.com'), 200, 'sign-ups are off');
  await checkbox(page, 'Turn off new sign-ups').uncheck();
  await succeeding(page, { path: '/console/api/auth-settings', method: 'POST' }, () => button(page, 'Save auth settings').click());
  assert.equal(await signUp('erin@example.com'), 200, 'sign-ups are on again');
  // a test email through whatever mail is configured
  await textbox(page, 'Test email address').fill('ops@example.com');
  await succeeding(page, { path: '/console/api/auth-settings/test-email', method: 'POST' }, () => button(page, 'Send test email').click());
  await page.getByText(/^Test email sent to ops@example\.com/).waitFor();
  // a provider: its secret is typed once and never shown again
  await button(page, 'Add provider').click();
  await textbox(page, 'Provider name').fill('github');
  await choose(page, combobox(page, 'Kind'), 'GitHub');
  await textbox(page, 'Client ID').fill('console-client-id');
  await page.getByLabel('Client secret', { exact: true }).fill('console-client-secret');
  const saved = await succeeding(page, { path: '/console/api/oauth-providers', method: 'POST' }, () => button(page, 'Save provider').click());
  assert.ok(!JSON.stringify(saved).includes('console-client-secret'));
  await page.getByRole('table', { name: 'OAuth providers' }).getByRole('cell', { name: 'console-client-id', exact: true }).waitFor();
  assert.equal(await page.getByText('console-client-secret').count(), 0);
  if (SHOTS) await shot(page, 'console-settings.png');
  // Keys: rotating is an owner's, and waits for the word
  await page.getByRole('heading', { name: 'Keys', exact: true }).waitFor();
  assert.equal(await button(page, 'Rotate JWT secret').isDisabled(), true, 'not before typing rotate');
});

step('a viewer is refused by the database, in the page and by direct calls; cross-site requests change nothing', async () => {
  viewer = await member('viewer');
  const { page, context } = viewer;
  await signIn(page, VIEWER);

  // in the page: whatever the page offers, the database says no
  let attempts = 0;
  await link(page, 'Tables').click();
  await tableLink(page, 'notes').waitFor();
  if (await button(page, 'New table').isVisible()) {
    attempts++;
    const name = await openNewTable(page);
    await name.fill('viewer_planted');
    await column(page, 0, { name: 'a', type: 'text' });
    const r = await refused(page, { path: '/console/api/tools/create_table', method: 'POST' }, () => button(page, 'Create table').click());
    assert.equal(r.status, 403, JSON.stringify(r.body));
    assert.equal(r.body?.code, 'forbidden');
  }
  await openTable(page, 'notes');
  if (await button(page, 'Insert row').isVisible()) {
    attempts++;
    await button(page, 'Insert row').click();
    await setField(page, field(page, 'title'), 'from a viewer');
    await refused(page, { path: '/console/api/rest/notes', method: 'POST' }, () => button(page, 'Save').click());
  }
  assert.ok(attempts > 0, 'the page offered a viewer neither "New table" nor "Insert row": nothing to be refused in the page');
  await link(page, 'SQL').click();
  const readOnly = checkbox(page, 'Read only');
  assert.equal(await readOnly.isChecked(), true);
  assert.equal(await readOnly.isDisabled(), true, 'a viewer cannot switch read-only off');
  await typeSql(page, 'select count(*) as n from notes');
  await succeeding(page, SQL_CALL, () => runSql(page));
  await results(page, 'n').locator(cell(page, '3')).waitFor();
  await link(page, 'API').click();
  await until('the anon key', async () => (await jwtsShown(page)).some((k) => k.claims.role === 'anon'));
  assert.equal(await button(page, 'Reveal service_role key').count(), 0, 'a viewer is not offered the service_role key');

  // direct calls with the viewer's cookie
  const create = await api(context, 'POST', '/console/api/tools/create_table', { table: 'viewer_direct', columns: { a: { type: 'text' } } });
  assert.equal(create.status, 403, JSON.stringify(create.body));
  assert.equal(create.body?.code, 'forbidden');
  const insert = await api(context, 'POST', '/console/api/rest/notes', { title: 'direct from a viewer' });
  assert.ok(insert.status >= 400 && insert.status < 500, `${insert.status} ${JSON.stringify(insert.body)}`);
  const sql = await api(context, 'POST', '/console/api/tools/execute_sql', { query: 'delete from notes', read_only: false });
  assert.equal(sql.status, 403, JSON.stringify(sql.body));
  const key = await api(context, 'POST', '/console/api/project/service-role-key', {});
  assert.equal(key.status, 403, JSON.stringify(key.body));
  // without the console's header: cross-site, whoever asks
  const cross = await api(context, 'POST', '/console/api/tools/list_tables', {}, { 'content-type': 'application/json' });
  assert.equal(cross.status, 403);
  assert.equal(cross.body?.code, 'cross_site');

  // from another site, in the browser of a signed-in owner: a form post and a script
  const other = await owner.context.newPage();
  try {
    const posted = await responding(other, { path: '/console/api/tools/create_table', method: 'POST' }, () => other.goto(`${elsewhere}/form`));
    assert.equal(posted.status(), 403);
    assert.equal((await bodyOf(posted))?.code, 'cross_site');
    await other.goto(`${elsewhere}/`);
    const fetched = await other.evaluate(async (bknd) => {
      try {
        const r = await fetch(`${bknd}/console/api/tools/create_table`, {
          method: 'POST',
          credentials: 'include',
          headers: { 'content-type': 'application/json', 'x-bknd-console': '1' },
          body: JSON.stringify({ table: 'planted_by_script', columns: { a: { type: 'text' } } }),
        });
        return `status ${r.status}`;
      } catch (e) {
        return `failed: ${e.message}`;
      }
    }, BKND);
    assert.ok(/^failed|^status 40[13]$/.test(fetched), `a script on another site reached the console: ${fetched}`);
  } finally {
    await other.close();
  }

  // nothing changed
  assert.equal(await notesCount(), '3');
  for (const name of ['viewer_planted', 'viewer_direct', 'planted', 'planted_by_script']) assert.equal(await tableExists(name), false, `${name} was created`);
  await context.close();
  viewer = null;
});

step('hostile names and a huge pasted statement: clear errors, nothing changed', async () => {
  const { page } = owner;
  const hostile = 'x"; drop table notes; --';
  let name = await openNewTable(page);
  await name.fill(hostile);
  await column(page, 0, { name: 'a', type: 'text' });
  await refused(page, { path: '/console/api/tools/create_table', method: 'POST' }, () => button(page, 'Create table').click(), { mayStayInPage: true });
  assert.equal(await tableExists('notes'), true);
  assert.equal(await notesCount(), '3');

  name = await openNewTable(page);
  await name.fill('hostile_columns');
  await column(page, 0, { name: hostile, type: 'text' });
  await refused(page, { path: '/console/api/tools/create_table', method: 'POST' }, () => button(page, 'Create table').click(), { mayStayInPage: true });
  assert.equal(await tableExists('hostile_columns'), false);
  assert.equal(await notesCount(), '3');

  // 1 MB of statements, pasted into the editor
  await link(page, 'SQL').click();
  const editor = textbox(page, 'SQL');
  await editor.click();
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.press('Backspace');
  const huge = 'select 1;\n'.repeat(100_000);
  await editor.evaluate((el, text) => {
    const data = new DataTransfer();
    data.setData('text/plain', text);
    el.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
  }, huge);
  const big = await refused(page, SQL_CALL, () => runSql(page), { mayStayInPage: true });
  if (big.response) {
    // it went to the server whole (and was refused there); else the page refused it itself
    const sent = JSON.parse(big.response.request().postData() ?? '{}').query ?? '';
    assert.ok(sent.length >= huge.length - 10, `the pasted statement was sent cut to ${sent.length} characters`);
  }
  // the page still works
  await typeSql(page, 'select count(*) as n from notes');
  await succeeding(page, SQL_CALL, () => runSql(page));
  await results(page, 'n').locator(cell(page, '3')).waitFor();
  const made = "select count(*) as n from pg_tables where tablename like 'x%' or tablename like 'hostile%' or tablename like '%planted%'";
  assert.equal(await sqlValue(made), '0', 'no table was made from hostile input');
});

step('a member turns on TOTP in Settings, and signing in then asks for a code', async () => {
  const m = await member('totp');
  const { page, context } = m;
  try {
    await signIn(page, VIEWER);
    await link(page, 'Settings').click();
    await page.getByRole('heading', { name: 'Your sign-in' }).waitFor();
    await button(page, 'Set up TOTP').click();
    await page.getByRole('img', { name: 'TOTP QR code' }).waitFor();
    const secret = (await page.getByLabel('TOTP secret').textContent()).trim();
    assert.match(secret, /^[A-Z2-7]{32}$/);
    await textbox(page, 'Code').fill(totpCode(secret));
    await succeeding(page, { path: '/console/api/totp/enable', method: 'POST' }, () => button(page, 'Turn on TOTP').click());
    await page.getByText('TOTP is on', { exact: false }).first().waitFor();
    await succeeding(page, { path: '/console/api/sign-out', method: 'POST' }, () => button(page, 'Sign out').click());

    // the password alone is not enough now: the page asks for the code
    await textbox(page, 'Email').fill(VIEWER.email);
    await page.getByLabel('Password', { exact: true }).fill(VIEWER.password);
    await responding(page, { path: '/console/api/sign-in', method: 'POST' }, () => button(page, 'Sign in').click());
    await textbox(page, 'Code').waitFor();
    assert.equal(await sessionCookie(context), null, 'no session without the code');
    await textbox(page, 'Code').fill(totpCode(secret, 1));
    await succeeding(page, { path: '/console/api/sign-in', method: 'POST' }, () => button(page, 'Sign in').click());
    await link(page, 'Tables').waitFor();
    assert.ok(await sessionCookie(context));
    
  } finally {
    await context.close();
  }
});

step('signing out ends the session', async () => {
  const { page, context } = owner;
  const cookie = await sessionCookie(context);
  assert.ok(cookie);
  await succeeding(page, { path: '/console/api/sign-out', method: 'POST' }, () => button(page, 'Sign out').click());
  await button(page, 'Sign in').waitFor();
  await textbox(page, 'Email').waitFor();
  assert.equal(await sessionCookie(context), null, 'the cookie is cleared');
  // the old cookie, replayed, opens nothing
  const replay = await playwrightRequest.newContext({ extraHTTPHeaders: { cookie: `bknd_console=${cookie.value}` } });
  try {
    assert.equal((await replay.get(`${BKND}/console/api/session`, { failOnStatusCode: false })).status(), 401);
    const tools = await replay.post(`${BKND}/console/api/tools/list_tables`, { headers: PAGE_HEADERS, data: '{}', failOnStatusCode: false });
    assert.equal(tools.status(), 401);
  } finally {
    await replay.dispose();
  }
  // and the page, reloaded, asks to sign in
  await page.reload();
  await button(page, 'Sign in').waitFor();
  await context.close();
});

// supabase-js 2.119.0 channels against bknd's /realtime/v1: database changes under RLS for two
// users and anon, filters, commit order, broadcast (self, ack, REST, SQL), presence, private
// channels, token expiry and refusal, and errors that break nothing else; with a second sidecar,
// changes, broadcasts and presence that cross from one sidecar to the other.
//
// The Rust test (tests/tests/realtime.rs) makes the database and passes:
//   BKND_URL, BKND_URL_2 (only for the "two sidecars" tests), ANON_KEY, TOKEN_A, TOKEN_B,
//   USER_A, USER_B, ADMIN_DATABASE_URL (a superuser URL for psql), REALTIME_VSN (1.0.0 | 2.0.0).
// Its fixture: table notes (title, body, rank) with owner-only policies for authenticated and
// SELECT for anon where rank > 100, published (enable_realtime); tables quiet and later, not
// published; policies on bknd.realtime_messages (see FIXTURE there); public.announce(room, msg).
//
// Changes "from psql" are made by running psql itself (ADMIN_DATABASE_URL): a session the
// sidecar knows nothing about, exactly what a user at a psql prompt does.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { promisify, isDeepStrictEqual } from 'node:util';
import { createClient } from '@supabase/supabase-js';
import WebSocket from 'ws';

const { BKND_URL, BKND_URL_2, ANON_KEY, TOKEN_A, TOKEN_B, USER_A, USER_B, ADMIN_DATABASE_URL } = process.env;
for (const [name, value] of Object.entries({ BKND_URL, ANON_KEY, TOKEN_A, TOKEN_B, USER_A, USER_B, ADMIN_DATABASE_URL })) {
  if (!value) throw new Error(`${name} is not set: run this through tests/tests/realtime.rs (make test T=realtime)`);
}
const VSN = process.env.REALTIME_VSN || '2.0.0';
// the two-sidecar tests put the second sidecar's clients on the other protocol version, so they
// also show that 1.0.0 and 2.0.0 sockets share topics
const OTHER_VSN = VSN === '1.0.0' ? '2.0.0' : '1.0.0';

// How long to wait for something that must happen. Waiting costs nothing when it happens, so
// these are generous (the machine has two cores and other tests run beside this one).
const WAIT_MS = 10_000;
// A join reply: Realtime delays error replies by 5 s (CHANNEL_ERROR_BACKOFF_MS); a server may too.
const JOIN_MS = 15_000;
// After the last expected message has arrived, how long an unexpected one gets to show up.
// Most checks do not rely on it: they end with a sentinel that arrives after everything else
// on the same table or topic (changes are delivered in commit order per table).
const GRACE_MS = 500;
// bknd.authenticate accepts a token up to 30 s past its exp (clock skew, docs/sql-api.md); the
// realtime server may apply the same leeway before it ends a channel whose token expired.
const LEEWAY_MS = 30_000;
const TEST = { timeout: 120_000 };

// Never hang `make test`: whatever is still open after ten minutes, stop.
setTimeout(() => {
  console.error('realtime_js.test.mjs: still running after 10 minutes; giving up');
  process.exit(1);
}, 600_000).unref();

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
// a bound on a wait that must not itself keep the process alive
const atMost = (ms) => new Promise((resolve) => setTimeout(resolve, ms).unref());

// ---------------------------------------------------------------------------------------------
// psql

const execFileAsync = promisify(execFile);
const psqlArgs = ['-X', '-q', '-t', '-A', '-v', 'ON_ERROR_STOP=1', '-d', ADMIN_DATABASE_URL];

/** Run statements as the superuser, each `-c` its own transaction; the output, trimmed. */
async function sql(...statements) {
  const { stdout } = await execFileAsync('psql', [...psqlArgs, ...statements.flatMap((s) => ['-c', s])]);
  return stdout.trim();
}

const lit = (s) => `'${String(s).replaceAll("'", "''")}'`;

// row id -> title at insert, to name DELETE events (whose `old` carries only the id)
const titles = new Map();

/** Insert notes from psql in one statement (one transaction); their ids, in order. */
async function psqlInsert(...rows) {
  const values = rows.map(({ title, rank = 0, owner = null }) => `(${lit(title)}, ${rank}, ${owner ? `${lit(owner)}::uuid` : 'NULL'})`);
  const out = await sql(`INSERT INTO public.notes (title, rank, owner_id) VALUES ${values.join(', ')} RETURNING id`);
  const ids = out.split('\n');
  assert.equal(ids.length, rows.length, out);
  ids.forEach((id, i) => titles.set(id, rows[i].title));
  return ids;
}

// ---------------------------------------------------------------------------------------------
// clients

const clients = [];

/**
 * A supabase-js client acting for `token` (null: anon) on `url`, speaking `vsn`.
 *
 * Why the `accessToken` option and not `global.headers.Authorization` + `realtime.setAuth`:
 * supabase-js always hands realtime-js a token callback. Without `accessToken` that callback
 * returns the auth session's token or, with no session, the anon key; realtime-js calls it on
 * connect, after every join and on every heartbeat, and pushes an `access_token` event whenever
 * the value changes. So a token set by hand is replaced by the anon key at the first heartbeat
 * (25 s). With `accessToken: async () => token` the callback is ours: the join payload carries
 * the user's JWT, every refresh yields the same JWT, and REST calls carry it as the
 * Authorization header too. The socket's `apikey` (the connect-time key) stays the anon key,
 * as in any Supabase app; the user is only in the channel's `access_token`.
 */
function client(token, label, { url = BKND_URL, vsn = VSN } = {}) {
  const trace = process.env.REALTIME_TRACE
    ? (kind, msg, data) => console.error(`[${label}] ${kind}: ${msg}`, data === undefined ? '' : JSON.stringify(data))
    : undefined;
  const sb = createClient(url, ANON_KEY, {
    auth: { persistSession: false, autoRefreshToken: false },
    accessToken: async () => token ?? ANON_KEY,
    realtime: { transport: WebSocket, vsn, params: { apikey: ANON_KEY }, ...(trace ? { logger: trace } : {}) },
  });
  sb.label = label;
  clients.push(sb);
  return sb;
}

after(async () => {
  // close every socket, so that the process can exit
  await Promise.allSettled(
    clients.map(async (sb) => {
      await Promise.race([sb.removeAllChannels(), atMost(12_000)]);
      await sb.realtime.disconnect();
    }),
  );
});

/** Events as they arrive, with a way to wait for one. */
class Inbox {
  constructor(label) {
    this.label = label;
    this.items = [];
    this.waiters = new Set();
  }

  push(item) {
    this.items.push({ ...item, at: Date.now() });
    for (const check of [...this.waiters]) check();
  }

  /** The first item from index `from` on, so far or to come, that matches `pred`; fails after `ms`. */
  wait(pred, what, ms = WAIT_MS, from = 0) {
    return new Promise((resolve, reject) => {
      let timer = null;
      const check = () => {
        const found = this.items.slice(from).find(pred);
        if (found === undefined) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(found);
      };
      timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`${this.label}: no ${what} within ${ms} ms; received ${JSON.stringify(this.items, null, 1)}`));
      }, ms);
      this.waiters.add(check);
      check();
    });
  }

  of(kind) {
    return this.items.filter((e) => e.kind === kind);
  }
}

/**
 * Make a channel and subscribe it. Everything it receives goes to `log`: `change` (binding is
 * the index in `changes`), `broadcast`, `presence` (sync, join, leave), `system`, and `status`
 * (the subscribe callback's SUBSCRIBED, CHANNEL_ERROR, TIMED_OUT, CLOSED).
 */
async function open(sb, name, { config = {}, changes = [], broadcasts = [], presence = false } = {}) {
  // Resolve the token before the join is pushed: a join pushed while the callback is still
  // pending carries no access_token at all (notes: "race condition"), and would run as anon.
  await sb.realtime.setAuth();
  const ch = sb.channel(name, { config });
  const log = new Inbox(`${sb.label} on ${name}`);
  changes.forEach((binding, i) => ch.on('postgres_changes', binding, (p) => log.push({ kind: 'change', binding: i, ...p })));
  for (const event of broadcasts) ch.on('broadcast', { event }, (m) => log.push({ kind: 'broadcast', ...m }));
  if (presence) {
    for (const event of ['sync', 'join', 'leave']) ch.on('presence', { event }, (p) => log.push({ kind: 'presence', ...p, event }));
  }
  ch.on('system', {}, (m) => log.push({ kind: 'system', ...m }));
  ch.subscribe((status, err) => log.push({ kind: 'status', status, error: err?.message }));
  return { sb, ch, log, name };
}

/** A channel that must join (SUBSCRIBED). */
async function joined(sb, name, opts) {
  const c = await open(sb, name, opts);
  await removedOnFailure(c, async () => {
    const first = await c.log.wait((e) => e.kind === 'status', 'join reply', JOIN_MS);
    assert.equal(first.status, 'SUBSCRIBED', `${sb.label} joining ${name}: ${first.status} ${first.error ?? ''}`);
  });
  return c;
}

/**
 * A channel whose join must fail: either the join is refused (CHANNEL_ERROR) or it is
 * accepted and then a `system` message with status "error" follows. A refused channel is
 * removed at once, or the client would keep rejoining it (1 s, 2 s, 5 s...); an accepted one
 * stays, to show that nothing reaches it.
 */
async function failedJoin(sb, name, opts) {
  const c = await open(sb, name, opts);
  const failure = await removedOnFailure(c, async () => {
    const failure = await c.log.wait(
      (e) => (e.kind === 'status' && e.status !== 'SUBSCRIBED') || (e.kind === 'system' && e.status === 'error'),
      'join error (CHANNEL_ERROR, or a system message with status "error")',
      JOIN_MS,
    );
    assert.ok(failure.kind === 'system' || failure.status === 'CHANNEL_ERROR', `${sb.label} joining ${name}: ${JSON.stringify(failure)}`);
    return failure;
  });
  if (failure.kind === 'status') await leave(c);
  return { ...c, failure };
}

/** A channel that must be refused outright (CHANNEL_ERROR), removed once refused. */
async function refused(sb, name, opts) {
  const c = await open(sb, name, opts);
  await removedOnFailure(c, async () => {
    const first = await c.log.wait((e) => e.kind === 'status', 'join reply', JOIN_MS);
    assert.equal(first.status, 'CHANNEL_ERROR', `${sb.label} joining ${name} should be refused: ${JSON.stringify(first)}`);
  });
  await leave(c);
  return c;
}

/** Run `check`; if it throws, remove the channel (no rejoins in the background) and rethrow. */
async function removedOnFailure(c, check) {
  try {
    return await check();
  } catch (e) {
    await leave(c);
    throw e;
  }
}

async function leave(c) {
  await Promise.race([c.sb.removeChannel(c.ch), atMost(12_000)]);
}

/** Wait until `fn()` is truthy (polling), e.g. for a presence state. */
async function until(fn, what, ms = WAIT_MS) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** Try `fn` until it succeeds, for up to `ms` (a setting that reaches the server asynchronously). */
async function eventually(fn, ms = 10_000) {
  const deadline = Date.now() + ms;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await sleep(250);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// changes: what the client got, in a form to compare

const NOTES = { schema: 'public', table: 'notes' };
const ALL_NOTES = { event: '*', ...NOTES };

/** "INSERT a1", "UPDATE a1", "DELETE a1" (a DELETE is named by the title its id had). */
const brief = (e) => (e.eventType === 'DELETE' ? `DELETE ${titles.get(e.old.id) ?? e.old.id}` : `${e.eventType} ${e.new.title}`);

const changesOf = (c, binding) => c.log.of('change').filter((e) => binding === undefined || e.binding === binding);

/** Wait for the change `want` (as `brief` writes it). */
const waitChange = (c, want, binding) =>
  c.log.wait((e) => e.kind === 'change' && (binding === undefined || e.binding === binding) && brief(e) === want, `change "${want}"`);

/** The payload shape supabase-js makes from the server's message, for every change. */
function assertWellFormed(e) {
  assert.equal(e.schema, 'public');
  assert.ok(['INSERT', 'UPDATE', 'DELETE'].includes(e.eventType), e.eventType);
  assert.ok(!Number.isNaN(Date.parse(e.commit_timestamp)), `commit_timestamp ${e.commit_timestamp}`);
  assert.ok(!e.errors || e.errors.length === 0, `errors: ${JSON.stringify(e.errors)}`);
  if (e.eventType === 'DELETE') {
    // a DELETE carries the primary key and nothing else
    assert.deepEqual(Object.keys(e.old), ['id'], `DELETE old: ${JSON.stringify(e.old)}`);
    assert.deepEqual(e.new, {});
  } else {
    assert.equal(typeof e.new.id, 'string');
    assert.ok('title' in e.new && 'owner_id' in e.new && 'rank' in e.new, JSON.stringify(e.new));
  }
  if (e.eventType === 'INSERT') assert.deepEqual(e.old, {});
}

// REST as a user, checked
async function insert(sb, row, table = 'notes') {
  const { data, error } = await sb.from(table).insert(row).select().single();
  assert.equal(error, null, `${sb.label} insert into ${table}: ${JSON.stringify(error)}`);
  titles.set(data.id, data.title);
  return data;
}
async function update(sb, id, patch) {
  const { data, error } = await sb.from('notes').update(patch).eq('id', id).select();
  assert.equal(error, null, `${sb.label} update: ${JSON.stringify(error)}`);
  assert.equal(data.length, 1, `${sb.label} updated ${data.length} rows`);
  return data[0];
}
async function remove(sb, id) {
  const { data, error } = await sb.from('notes').delete().eq('id', id).select();
  assert.equal(error, null, `${sb.label} delete: ${JSON.stringify(error)}`);
  assert.equal(data.length, 1, `${sb.label} deleted ${data.length} rows`);
}

/** POST /realtime/v1/api/broadcast as the holder of `token`; the HTTP status. */
async function restBroadcast(token, messages, url = BKND_URL) {
  const res = await fetch(`${url}/realtime/v1/api/broadcast`, {
    method: 'POST',
    headers: { apikey: ANON_KEY, Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ messages }),
  });
  await res.text();
  return res.status;
}

/** The broadcasts a channel received, as "event:n" (n from the payload). */
const broadcastsOf = (c) => c.log.of('broadcast').map((m) => `${m.event}:${m.payload?.n ?? m.payload?.msg}`);
const waitBroadcast = (c, event, n) =>
  c.log.wait((e) => e.kind === 'broadcast' && e.event === event && (e.payload?.n ?? e.payload?.msg) === n, `broadcast ${event}:${n}`);

// presence state without the server-made refs, keys sorted
function presenceOf(c) {
  const state = c.ch.presenceState();
  return Object.fromEntries(
    Object.keys(state)
      .sort()
      .map((key) => [key, state[key].map(({ presence_ref, ...meta }) => meta)]),
  );
}

function tokenClaims(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());
}

// ---------------------------------------------------------------------------------------------

test(`the socket is /realtime/v1/websocket with the apikey and vsn ${VSN}`, TEST, async () => {
  const sb = client(TOKEN_A, 'A');
  const endpoint = new URL(sb.realtime.endpointURL());
  assert.equal(endpoint.pathname, '/realtime/v1/websocket');
  assert.equal(endpoint.searchParams.get('apikey'), ANON_KEY);
  assert.equal(endpoint.searchParams.get('vsn'), VSN);
  // and a channel with no bindings joins
  const c = await joined(sb, 'hello');
  await leave(c);
});

test('postgres_changes: each of two users and anon sees exactly the changes its policies let it read', TEST, async () => {
  const a = client(TOKEN_A, 'A');
  const b = client(TOKEN_B, 'B');
  const anon = client(null, 'anon');
  const [ca, cb, cn] = await Promise.all([
    joined(a, 'notes-a', { changes: [ALL_NOTES] }),
    joined(b, 'notes-b', { changes: [ALL_NOTES] }),
    joined(anon, 'notes-anon', { changes: [ALL_NOTES] }),
  ]);

  // who may read what: owners their rows, anon rows with rank > 100 (at the time of the change)
  const a1 = await insert(a, { title: 'a1', rank: 5 }); //              A
  const a2 = await insert(a, { title: 'a2', rank: 150 }); //            A, anon
  await insert(b, { title: 'b1', rank: 1 }); //                         B
  const [p1] = await psqlInsert({ title: 'p1', rank: 200, owner: USER_B }); // B, anon (from psql)
  await psqlInsert({ title: 'p2', rank: 300 }); //                      anon (nobody owns it)
  await update(a, a1.id, { rank: 101 }); //                             A, and now anon too
  await update(a, a2.id, { rank: 50 }); //                              A; anon may no longer read it
  await sql(`UPDATE public.notes SET title = 'p1*' WHERE id = ${lit(p1)}`); // B, anon (from psql)
  await remove(a, a1.id); //                                            A, anon (rank 101)
  await sql(`DELETE FROM public.notes WHERE id = ${lit(p1)}`); //       B, anon (rank 200)
  // one sentinel each, in one transaction: when it arrives, everything before it has
  await psqlInsert({ title: 'end-A', owner: USER_A }, { title: 'end-B', owner: USER_B }, { title: 'end-anon', rank: 999 });
  await Promise.all([waitChange(ca, 'INSERT end-A'), waitChange(cb, 'INSERT end-B'), waitChange(cn, 'INSERT end-anon')]);
  await sleep(GRACE_MS);

  // A DELETE of a row one cannot read may reach one (Supabase sends DELETEs without an RLS
  // check, the row being gone) or not (checked against the old row); either way it carries
  // only the key, which assertWellFormed checks. All other changes are exact, in order.
  const optional = { A: ['DELETE p1'], B: ['DELETE a1'], anon: [] };
  const seen = (c, who) => changesOf(c).map(brief).filter((x) => !optional[who].includes(x));
  assert.deepEqual(seen(ca, 'A'), ['INSERT a1', 'INSERT a2', 'UPDATE a1', 'UPDATE a2', 'DELETE a1', 'INSERT end-A']);
  assert.deepEqual(seen(cb, 'B'), ['INSERT b1', 'INSERT p1', 'UPDATE p1*', 'DELETE p1', 'INSERT end-B']);
  assert.deepEqual(seen(cn, 'anon'), ['INSERT a2', 'INSERT p1', 'INSERT p2', 'UPDATE a1', 'UPDATE p1*', 'DELETE a1', 'DELETE p1', 'INSERT end-anon']);
  for (const c of [ca, cb, cn]) changesOf(c).forEach(assertWellFormed);

  // the records are the rows as the database has them
  const [inserted] = changesOf(ca).filter((e) => brief(e) === 'INSERT a2');
  assert.equal(inserted.table, 'notes');
  assert.equal(inserted.new.id, a2.id);
  assert.equal(inserted.new.rank, 150);
  assert.equal(inserted.new.owner_id, USER_A);
  assert.equal(inserted.new.body, null);
  const [updated] = changesOf(cn).filter((e) => brief(e) === 'UPDATE a1');
  assert.equal(updated.new.rank, 101);
  assert.equal(updated.new.id, a1.id);
  const [deleted] = changesOf(ca).filter((e) => e.eventType === 'DELETE');
  assert.deepEqual(deleted.old, { id: a1.id });
  await Promise.all([ca, cb, cn].map(leave));
});

test('postgres_changes: event and filter bindings (eq, neq, lt, lte, gt, gte, in), several on one channel', TEST, async () => {
  const a = client(TOKEN_A, 'A');
  // a row to update later, delivered before the channel joins (a probe channel sees it first)
  const probe = await joined(a, 'filters-probe', { changes: [{ event: 'INSERT', ...NOTES }] });
  const fixed = await insert(a, { title: 'fixed', rank: 1 });
  await waitChange(probe, 'INSERT fixed');
  await leave(probe);
  const on = (event, filter) => ({ event, ...NOTES, ...(filter ? { filter } : {}) });
  const bindings = [
    on('INSERT', 'rank=eq.7'), //            0
    on('INSERT', 'rank=neq.7'), //           1
    on('INSERT', 'rank=lt.7'), //            2
    on('INSERT', 'rank=lte.7'), //           3
    on('INSERT', 'rank=gt.7'), //            4
    on('INSERT', 'rank=gte.7'), //           5
    on('INSERT', 'rank=in.(3,7,11)'), //     6
    on('INSERT', 'title=eq.f5'), //          7
    on('UPDATE', 'rank=gt.7'), //            8
    on('DELETE'), //                         9
    on('*', 'title=eq.f11'), //              10
    on('UPDATE', `id=eq.${fixed.id}`), //    11
  ];
  const c = await joined(a, 'filters', { changes: bindings });

  const rows = {};
  for (const [title, rank] of [['f3', 3], ['f7', 7], ['f11', 11], ['f5', 5]]) rows[title] = await insert(a, { title, rank });
  // each update keeps its row on the same side of every filter, old and new alike
  await update(a, rows.f3.id, { rank: 2 });
  await update(a, rows.f11.id, { rank: 12 });
  await update(a, fixed.id, { rank: 2 });
  await remove(a, rows.f5.id);
  await waitChange(c, 'DELETE f5', 9); // the last change: all others are in
  await sleep(GRACE_MS);

  const expected = [
    ['INSERT f7'],
    ['INSERT f3', 'INSERT f11', 'INSERT f5'],
    ['INSERT f3', 'INSERT f5'],
    ['INSERT f3', 'INSERT f7', 'INSERT f5'],
    ['INSERT f11'],
    ['INSERT f7', 'INSERT f11'],
    ['INSERT f3', 'INSERT f7', 'INSERT f11'],
    ['INSERT f5'],
    ['UPDATE f11'],
    ['DELETE f5'],
    ['INSERT f11', 'UPDATE f11'],
    ['UPDATE fixed'],
  ];
  const got = bindings.map((_, i) => changesOf(c, i).map(brief));
  assert.deepEqual(got, expected);
  changesOf(c).forEach(assertWellFormed);
  await leave(c);
});

test('postgres_changes: commit order, including a transaction that began first and committed last', TEST, async () => {
  const a = client(TOKEN_A, 'A');
  const c = await joined(a, 'order', { changes: [{ event: 'INSERT', ...NOTES }] });
  // a psql session inserts first and commits two seconds later...
  const slow = sql(`BEGIN; INSERT INTO public.notes (title, owner_id) VALUES ('ord-late', ${lit(USER_A)}); SELECT pg_sleep(2); COMMIT;`);
  await sleep(500);
  // ...while another commits twenty small transactions (if the first session started late,
  // the expected order is the same, the test just proves less)
  await sql(...Array.from({ length: 20 }, (_, i) => `INSERT INTO public.notes (title, rank, owner_id) VALUES ('ord-${i}', ${i}, ${lit(USER_A)})`));
  await slow;
  await insert(a, { title: 'ord-rest' }); // and one through REST after both
  await waitChange(c, 'INSERT ord-rest');
  const order = changesOf(c).map((e) => e.new.title).filter((t) => t.startsWith('ord-'));
  assert.deepEqual(order, [...Array.from({ length: 20 }, (_, i) => `ord-${i}`), 'ord-late', 'ord-rest']);
  await leave(c);
});

test('postgres_changes: what is committed while the sidecar is not listening is delivered once it listens again', TEST, async () => {
  const a = client(TOKEN_A, 'A');
  const ca = await joined(a, 'notes-away', { changes: [ALL_NOTES] });
  // only this database's sidecar: other suites run beside this one
  const endListeners = `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
    WHERE datname = current_database() AND starts_with(application_name, 'bknd realtime listener')`;
  // a transaction that begins first (its change has the lowest id of the three), and later ends
  // the listener's session and commits in the same breath: the listener is away when it commits
  const early = sql(`BEGIN; INSERT INTO public.notes (title, owner_id) VALUES ('early-away', ${lit(USER_A)}::uuid);
    SELECT pg_sleep(1.5); ${endListeners}; COMMIT;`);
  await sleep(300);
  await psqlInsert({ title: 'before-away', owner: USER_A });
  await waitChange(ca, 'INSERT before-away');
  await early;
  await waitChange(ca, 'INSERT early-away');
  // end the listener's session again, and commit a change just after, from another session
  await sql(endListeners, `INSERT INTO public.notes (title, owner_id) VALUES ('while-away', ${lit(USER_A)}::uuid)`);
  await waitChange(ca, 'INSERT while-away');
  await psqlInsert({ title: 'after-away', owner: USER_A });
  await waitChange(ca, 'INSERT after-away');
  await sleep(GRACE_MS);
  // each once, in order
  assert.deepEqual(changesOf(ca).map(brief), ['INSERT before-away', 'INSERT early-away', 'INSERT while-away', 'INSERT after-away']);
  await leave(ca);
});

test('postgres_changes: a binding with a replay position first gets what committed since then, as its policies allow, then live changes, each once', TEST, async () => {
  const a = client(TOKEN_A, 'A');
  const b = client(TOKEN_B, 'B');
  // the position: the commit_timestamp of the last change A saw
  const first = await joined(a, 'rp-first', { changes: [ALL_NOTES] });
  const one = await insert(a, { title: 'rp-1' });
  const seen = await waitChange(first, 'INSERT rp-1');
  await leave(first);
  const since = Date.parse(seen.commit_timestamp);
  // what A misses: its own changes from psql and REST, and B's (which A may not read)
  const [two] = await psqlInsert({ title: 'rp-2', owner: USER_A });
  await insert(b, { title: 'rp-hidden' });
  await sql(`UPDATE public.notes SET title = 'rp-2b' WHERE id = ${lit(two)}`);
  await remove(a, one.id);
  // the replay, on two bindings (one filtered to UPDATEs), then a live change
  const late = await joined(a, 'rp-late', {
    changes: [{ ...ALL_NOTES, replay: { since } }, { event: 'UPDATE', ...NOTES, replay: { since, limit: 10 } }],
  });
  await insert(a, { title: 'rp-3' });
  await waitChange(late, 'INSERT rp-3', 0);
  await sleep(GRACE_MS);
  const rp = (e) => brief(e).includes(' rp-');
  // the insert at the position would come again (since is inclusive), but its row is gone: a
  // replayed change is one the subscriber may read now, and nobody may read a deleted row
  assert.deepEqual(changesOf(late, 0).filter(rp).map(brief), ['INSERT rp-2', 'UPDATE rp-2b', 'DELETE rp-1', 'INSERT rp-3']);
  assert.deepEqual(changesOf(late, 1).filter(rp).map(brief), ['UPDATE rp-2b']);
  changesOf(late).forEach(assertWellFormed);
  // commit_timestamp goes forward, so the last one seen is the next position
  const stamps = changesOf(late, 0).filter(rp).map((e) => Date.parse(e.commit_timestamp));
  assert.deepEqual(stamps, [...stamps].sort((x, y) => x - y));
  await leave(late);

  // a limit: the first changes, then a system message saying the replay stopped short
  const short = await joined(a, 'rp-short', { changes: [{ ...ALL_NOTES, replay: { since, limit: 2 } }] });
  const cut = await short.log.wait((e) => e.kind === 'system' && e.status === 'error', 'ReplayTruncated');
  assert.match(cut.message, /^ReplayTruncated/);
  assert.deepEqual(changesOf(short).map(brief), ['INSERT rp-2', 'UPDATE rp-2b']);
  await leave(short);
  // B replays the same span and sees only its own row
  const theirs = await joined(b, 'rp-theirs', { changes: [{ ...ALL_NOTES, replay: { since } }] });
  await waitChange(theirs, 'INSERT rp-hidden');
  await sleep(GRACE_MS);
  assert.deepEqual(changesOf(theirs).filter(rp).map(brief), ['INSERT rp-hidden']);
  await leave(theirs);
  // anon may read notes ranked over 100: a row inserted at 5 and raised to 200 replays as its
  // UPDATE alone, since the INSERT's row as logged (rank 5) was never anon's to read
  const [raised] = await psqlInsert({ title: 'rp-raised', rank: 5, owner: USER_A });
  await sql(`UPDATE public.notes SET rank = 200 WHERE id = ${lit(raised)}`);
  const anon = client(null, 'anon');
  const theirs2 = await joined(anon, 'rp-anon', { changes: [{ ...ALL_NOTES, replay: { since } }] });
  await waitChange(theirs2, 'UPDATE rp-raised');
  await sleep(GRACE_MS);
  assert.deepEqual(changesOf(theirs2).filter(rp).map(brief), ['UPDATE rp-raised']);
  await leave(theirs2);
  // a position that is not one is refused
  for (const replay of [{ since: 'yesterday' }, { since: -1 }, { since, limit: 0 }, { since, limit: 5000 }, 'now']) {
    await refused(a, 'rp-bad', { changes: [{ ...ALL_NOTES, replay }] });
  }
});

// Run by tests/tests/realtime.rs around a restart of the sidecar (REPLAY_FILE names where the
// position is kept); skipped otherwise.
const RESTART = { ...TEST, skip: !process.env.REPLAY_FILE };

test('replay across a restart: before, a client keeps the commit_timestamp of the last change it saw', RESTART, async () => {
  const a = client(TOKEN_A, 'A');
  const c = await joined(a, 'rs-before', { changes: [ALL_NOTES] });
  await insert(a, { title: 'rs-1' });
  const seen = await waitChange(c, 'INSERT rs-1');
  await leave(c);
  (await import('node:fs')).writeFileSync(process.env.REPLAY_FILE, String(Date.parse(seen.commit_timestamp)));
});

test('replay across a restart: after, a channel joined with that position gets what committed while the sidecar was down', RESTART, async () => {
  const since = Number((await import('node:fs')).readFileSync(process.env.REPLAY_FILE, 'utf8'));
  const a = client(TOKEN_A, 'A');
  // the Rust test inserted rs-2 (A's) and rs-hidden (B's) from psql while no sidecar ran
  const c = await joined(a, 'rs-after', { changes: [{ ...ALL_NOTES, replay: { since } }] });
  await insert(a, { title: 'rs-3' });
  await waitChange(c, 'INSERT rs-3');
  await sleep(GRACE_MS);
  // inclusive: the change at the position itself comes again
  assert.deepEqual(changesOf(c).map(brief), ['INSERT rs-1', 'INSERT rs-2', 'INSERT rs-3']);
  await leave(c);
});

test('broadcast: self and ack, between users and anon, from REST, from SQL and from an RPC', TEST, async () => {
  const a = client(TOKEN_A, 'A');
  const b = client(TOKEN_B, 'B');
  const anon = client(null, 'anon');
  const ca = await joined(a, 'chat', { config: { broadcast: { self: true, ack: true } }, broadcasts: ['*'] });
  const cb = await joined(b, 'chat', { broadcasts: ['*'] }); // the defaults: self false, ack false
  const cn = await joined(anon, 'chat', { broadcasts: ['msg'] }); // only event "msg"

  // over the socket (vsn 2.0.0: a binary frame; 1.0.0: JSON), acknowledged: 'ok' is the server's reply
  const hello = { n: 1, text: 'wörld ✓ "quoted"', nested: { list: [1, 'two', null, 2.5], yes: true } };
  assert.equal(await ca.ch.send({ type: 'broadcast', event: 'msg', payload: hello }), 'ok');
  const [atB, atAnon] = await Promise.all([waitBroadcast(cb, 'msg', 1), waitBroadcast(cn, 'msg', 1), waitBroadcast(ca, 'msg', 1)]);
  assert.deepEqual(atB.payload, hello);
  assert.equal(atB.type, 'broadcast');
  assert.deepEqual(atAnon.payload, hello);

  // without self, B does not get its own message back
  assert.equal(await cb.ch.send({ type: 'broadcast', event: 'msg', payload: { n: 2 } }), 'ok');
  await Promise.all([waitBroadcast(ca, 'msg', 2), waitBroadcast(cn, 'msg', 2)]);

  // REST: POST /realtime/v1/api/broadcast answers 202 and everyone gets it, the sender too
  assert.equal(await restBroadcast(TOKEN_A, [{ topic: 'chat', event: 'msg', payload: { n: 3 }, private: false }]), 202);
  await Promise.all([ca, cb, cn].map((c) => waitBroadcast(c, 'msg', 3)));

  // SQL from psql (superuser): bknd.realtime_send, private defaulting to false
  await sql(`SELECT bknd.realtime_send('chat', 'msg', '{"n": 4}'::jsonb)`);
  await Promise.all([ca, cb, cn].map((c) => waitBroadcast(c, 'msg', 4)));

  // an RPC that calls realtime_send as the caller
  const said = await a.rpc('announce', { room: 'chat', msg: 'hi' });
  assert.equal(said.error, null, JSON.stringify(said.error));
  await Promise.all([waitBroadcast(ca, 'announce', 'hi'), waitBroadcast(cb, 'announce', 'hi')]);
  // (anon may too: public topics take anyone's message, as over the WebSocket; private ones
  // need an INSERT policy, tested with the private channels)

  // the sentinel, then exactly what each got, in order
  await sql(`SELECT bknd.realtime_send('chat', 'msg', '{"n": 5}'::jsonb, false)`);
  await Promise.all([ca, cb, cn].map((c) => waitBroadcast(c, 'msg', 5)));
  await sleep(GRACE_MS);
  assert.deepEqual(broadcastsOf(ca), ['msg:1', 'msg:2', 'msg:3', 'msg:4', 'announce:hi', 'msg:5']);
  assert.deepEqual(broadcastsOf(cb), ['msg:1', 'msg:3', 'msg:4', 'announce:hi', 'msg:5']);
  assert.deepEqual(broadcastsOf(cn), ['msg:1', 'msg:2', 'msg:3', 'msg:4', 'msg:5']);
  await Promise.all([ca, cb, cn].map(leave));
});

test('broadcast: a payload of bytes reaches 2.0.0 clients as bytes and 1.0.0 clients as base64', TEST, async () => {
  // only 2.0.0 sends bytes (1.0.0 frames are JSON text)
  const s = client(TOKEN_A, 'A/2.0.0', { vsn: '2.0.0' });
  const r2 = client(TOKEN_B, 'B/2.0.0', { vsn: '2.0.0' });
  const r1 = client(null, 'anon/1.0.0', { vsn: '1.0.0' });
  const cs = await joined(s, 'bytes', { config: { broadcast: { ack: true } } });
  const c2 = await joined(r2, 'bytes', { broadcasts: ['bin'] });
  const c1 = await joined(r1, 'bytes', { broadcasts: ['bin'] });
  const sent = new Uint8Array([0, 1, 2, 254, 255]);
  assert.equal(await cs.ch.send({ type: 'broadcast', event: 'bin', payload: sent.buffer }), 'ok');
  const got2 = await c2.log.wait((e) => e.kind === 'broadcast' && e.event === 'bin', 'the bytes at 2.0.0');
  assert.ok(got2.payload instanceof ArrayBuffer, `a 2.0.0 client gets an ArrayBuffer: ${JSON.stringify(got2)}`);
  assert.deepEqual([...new Uint8Array(got2.payload)], [...sent]);
  const got1 = await c1.log.wait((e) => e.kind === 'broadcast' && e.event === 'bin', 'the bytes at 1.0.0');
  assert.deepEqual(got1.payload, { base64: Buffer.from(sent).toString('base64') });
  // kept as bytes beside an empty JSON payload
  assert.equal(await sql(`SELECT encode(binary_payload, 'hex') || ' ' || payload::text FROM bknd.realtime_messages WHERE topic = 'bytes'`), '000102feff {}');
  await Promise.all([cs, c2, c1].map(leave));
});

test('presence: track, update and untrack give sync, join and leave to everyone on the channel', TEST, async () => {
  const a = client(TOKEN_A, 'A');
  const b = client(TOKEN_B, 'B');
  const pa = await joined(a, 'lobby', { config: { presence: { key: USER_A } }, presence: true });
  const pb = await joined(b, 'lobby', { config: { presence: { key: USER_B } }, presence: true });
  // the initial state (presence_state, empty or not) comes right after the join
  await Promise.all([pa, pb].map((c) => c.log.wait((e) => e.kind === 'presence' && e.event === 'sync', 'initial presence sync')));
  assert.deepEqual(presenceOf(pb), {});

  const joinOf = (c, key) => c.log.wait((e) => e.kind === 'presence' && e.event === 'join' && e.key === key, `presence join of ${key}`);
  // (from: a position in the log, to skip the leave of an old meta when a key tracks again)
  const leaveOf = (c, key, from = 0) =>
    c.log.wait((e) => e.kind === 'presence' && e.event === 'leave' && e.key === key, `presence leave of ${key}`, WAIT_MS, from);

  assert.equal(await pa.ch.track({ name: 'Ann' }), 'ok');
  const [seen] = await Promise.all([joinOf(pb, USER_A), joinOf(pa, USER_A)]); // the tracker sees itself too
  assert.deepEqual(seen.newPresences.map(({ presence_ref, ...meta }) => meta), [{ name: 'Ann' }]);
  assert.equal(await pb.ch.track({ name: 'Bob' }), 'ok');
  await joinOf(pa, USER_B);
  const both = { [USER_A]: [{ name: 'Ann' }], [USER_B]: [{ name: 'Bob' }] };
  await until(() => isDeepStrictEqual(presenceOf(pa), both), "A's view of both");
  await until(() => isDeepStrictEqual(presenceOf(pb), both), "B's view of both");

  // tracking again replaces the key's meta
  assert.equal(await pa.ch.track({ name: 'Ann', typing: true }), 'ok');
  await until(() => isDeepStrictEqual(presenceOf(pb)[USER_A], [{ name: 'Ann', typing: true }]), "A's new meta at B");

  assert.equal(await pb.ch.untrack(), 'ok');
  await leaveOf(pa, USER_B);
  await until(() => isDeepStrictEqual(Object.keys(presenceOf(pa)), [USER_A]), "B gone from A's view");

  // leaving the channel leaves presence
  const mark = pb.log.items.length;
  await leave(pa);
  await leaveOf(pb, USER_A, mark);
  await until(() => Object.keys(presenceOf(pb)).length === 0, 'an empty lobby at B');
  await leave(pb);
});

test('private channels: joined when the SELECT policy on bknd.realtime_messages admits the topic; sending needs the INSERT policy', TEST, async () => {
  const a = client(TOKEN_A, 'A');
  const b = client(TOKEN_B, 'B');
  const anon = client(null, 'anon');
  const roomA = `room:${USER_A}`;
  const roomB = `room:${USER_B}`;
  const mine = await joined(a, roomA, { config: { private: true, broadcast: { self: true, ack: true } }, broadcasts: ['*'] });
  // another user's room, on the same socket as a joined channel; anon (the policy is for authenticated)
  await refused(a, roomB, { config: { private: true } });
  await refused(anon, roomA, { config: { private: true } });
  assert.equal(mine.ch.state, 'joined', 'a refused join disturbed the joined channel');
  const theirs = await joined(b, roomB, { config: { private: true }, broadcasts: ['*'] });
  // a public channel of the same name is another channel: anyone may join it
  const publicA = await joined(b, roomA, { broadcasts: ['*'] });

  // A may send in its own room (INSERT policy), acknowledged
  assert.equal(await mine.ch.send({ type: 'broadcast', event: 'note', payload: { n: 1 } }), 'ok');
  await waitBroadcast(mine, 'note', 1);
  // SQL, private and public: each reaches its own kind of channel only
  await sql(`SELECT bknd.realtime_send(${lit(roomA)}, 'note', '{"n": 2}'::jsonb, true)`);
  await sql(`SELECT bknd.realtime_send(${lit(roomA)}, 'note', '{"n": 3}'::jsonb, false)`);
  await Promise.all([waitBroadcast(mine, 'note', 2), waitBroadcast(publicA, 'note', 3)]);
  // REST, private: A's message to its room is delivered; B's to A's room is not (202 or 403)
  assert.equal(await restBroadcast(TOKEN_A, [{ topic: roomA, event: 'note', payload: { n: 4 }, private: true }]), 202);
  await waitBroadcast(mine, 'note', 4);
  const intruder = await restBroadcast(TOKEN_B, [{ topic: roomA, event: 'note', payload: { n: 5 }, private: true }]);
  assert.ok([202, 401, 403].includes(intruder), `B's private send to A's room: HTTP ${intruder}`);
  assert.equal(await restBroadcast(TOKEN_B, [{ topic: roomB, event: 'note', payload: { n: 6 }, private: true }]), 202);
  await waitBroadcast(theirs, 'note', 6);

  await sql(`SELECT bknd.realtime_send(${lit(roomA)}, 'note', '{"n": 7}'::jsonb, true)`);
  await waitBroadcast(mine, 'note', 7);
  await sleep(GRACE_MS);
  assert.deepEqual(broadcastsOf(mine), ['note:1', 'note:2', 'note:4', 'note:7']);
  assert.deepEqual(broadcastsOf(publicA), ['note:3']);
  assert.deepEqual(broadcastsOf(theirs), ['note:6']);
  await Promise.all([mine, theirs, publicA].map(leave));
});

test('private channels: a join with broadcast.replay gets the messages it missed, oldest first, as its policies allow', TEST, async () => {
  const a = client(TOKEN_A, 'A');
  const b = client(TOKEN_B, 'B');
  const roomA = `room:${USER_A}`;
  const since = Date.now();
  await sleep(20);
  for (const n of [11, 12, 13]) await sql(`SELECT bknd.realtime_send(${lit(roomA)}, 'missed', '{"n": ${n}}'::jsonb, true)`);
  // the first two since then (limit 2), marked as replayed
  const late = await joined(a, roomA, { config: { private: true, broadcast: { replay: { since, limit: 2 } } }, broadcasts: ['*'] });
  await waitBroadcast(late, 'missed', 12);
  await sleep(GRACE_MS);
  assert.deepEqual(broadcastsOf(late), ['missed:11', 'missed:12']);
  for (const m of late.log.of('broadcast')) assert.equal(m.meta?.replayed, true, JSON.stringify(m));
  // B may not read A's room, so cannot replay it (a public channel cannot replay at all:
  // supabase-js refuses before sending, and so does the server)
  await refused(b, roomA, { config: { private: true, broadcast: { replay: { since, limit: 25 } } } });
  await leave(late);
});

test('private channels: a topic one may read but not write', TEST, async () => {
  // policy news_read admits 'news' to authenticated for SELECT; no INSERT policy admits it
  const a = client(TOKEN_A, 'A');
  const b = client(TOKEN_B, 'B');
  const na = await joined(a, 'news', { config: { private: true, broadcast: { self: true, ack: true } }, broadcasts: ['*'] });
  const nb = await joined(b, 'news', { config: { private: true }, broadcasts: ['*'] });
  // Realtime does not answer an unauthorized broadcast (the client times out); an error reply is as good
  const sent = await na.ch.send({ type: 'broadcast', event: 'news', payload: { n: 1 } }, { timeout: 3_000 });
  assert.ok(['error', 'timed out'].includes(sent), `an unauthorized send answered ${sent}`);
  await sql(`SELECT bknd.realtime_send('news', 'news', '{"n": 2}'::jsonb, true)`);
  await Promise.all([waitBroadcast(na, 'news', 2), waitBroadcast(nb, 'news', 2)]);
  await sleep(GRACE_MS);
  assert.deepEqual(broadcastsOf(na), ['news:2']);
  assert.deepEqual(broadcastsOf(nb), ['news:2']);
  await Promise.all([na, nb].map(leave));
});

test('a token that expires ends its channel: a system message with status error, then CLOSED', TEST, async () => {
  // minted now, not by the harness: how long the earlier tests take is not known in advance
  const lifetime = 6;
  const short = await sql(`SELECT bknd.jwt_sign(${lit(JSON.stringify({ sub: USER_A, role: 'authenticated' }))}::jsonb, ${lifetime})`);
  const expiresAt = tokenClaims(short).exp * 1000;
  const sb = client(short, 'A (short-lived token)');
  const c = await joined(sb, 'expiring', { changes: [ALL_NOTES] });
  // while the token is valid, the channel works
  await psqlInsert({ title: 'while-valid', owner: USER_A });
  await waitChange(c, 'INSERT while-valid');
  const closed = await c.log.wait(
    (e) => e.kind === 'status' && e.status === 'CLOSED',
    'CLOSED after the token expired',
    Math.max(0, expiresAt - Date.now()) + LEEWAY_MS + WAIT_MS,
  );
  assert.ok(closed.at >= expiresAt - 1_000, `closed ${(expiresAt - closed.at) / 1000} s before the token expired`);
  const error = c.log.items.find((e) => e.kind === 'system' && e.status === 'error');
  assert.ok(error, `no system error before CLOSED: ${JSON.stringify(c.log.items)}`);
  assert.ok(c.log.items.indexOf(error) < c.log.items.indexOf(closed), 'the system error came after CLOSED');
  // it stays closed: no rejoin, nothing more delivered
  await psqlInsert({ title: 'after-expiry', owner: USER_A });
  await sleep(1_500);
  assert.deepEqual(changesOf(c).map(brief), ['INSERT while-valid']);
  assert.equal(c.log.of('status').filter((e) => e.status === 'SUBSCRIBED').length, 1, 'the channel rejoined');
});

test('an invalid token refuses the join: a forged signature, an expired token, garbage', TEST, async () => {
  const [head, body, signature] = TOKEN_A.split('.');
  const forged = `${head}.${body}.${signature.slice(0, -4)}${signature.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`;
  const claims = { sub: USER_A, role: 'authenticated', exp: Math.floor(Date.now() / 1000) - 3600 };
  const expired = await sql(`SELECT bknd.jwt_sign(${lit(JSON.stringify(claims))}::jsonb, NULL)`);
  await Promise.all(
    Object.entries({ forged, expired, garbage: 'not-a-jwt' }).map(([label, token]) =>
      refused(client(token, `A (${label} token)`), `bad-token-${label}`, { changes: [ALL_NOTES] }),
    ),
  );
});

test('joins to missing or unpublished tables and bad filters fail; the socket and its other channels keep working', TEST, async () => {
  const a = client(TOKEN_A, 'A');
  const good = await joined(a, 'good', { changes: [ALL_NOTES], config: { broadcast: { self: true, ack: true } }, broadcasts: ['ping'] });
  const bad = {
    'a table that does not exist': { event: '*', schema: 'public', table: 'no_such_table' },
    'a table that does not publish': { event: '*', schema: 'public', table: 'quiet' },
    'an unknown operator': { event: '*', ...NOTES, filter: 'rank=approx.5' },
    'no operator': { event: '*', ...NOTES, filter: 'rank' },
    'in without parentheses': { event: '*', ...NOTES, filter: 'rank=in.7,8' },
  };
  const failed = await Promise.all(Object.entries(bad).map(([, binding], i) => failedJoin(a, `bad-${i}`, { changes: [binding] })));

  // the socket is the same one and the good channel is still joined
  assert.ok(a.realtime.isConnected());
  assert.equal(good.ch.state, 'joined');
  assert.equal(good.log.of('status').length, 1, `the good channel saw ${JSON.stringify(good.log.of('status'))}`);
  // it still gets changes and broadcasts; a new join works
  await insert(a, { title: 'quiet-row' }, 'quiet');
  await insert(a, { title: 'after-errors', rank: 7 });
  await waitChange(good, 'INSERT after-errors');
  assert.equal(await good.ch.send({ type: 'broadcast', event: 'ping', payload: { n: 1 } }), 'ok');
  await waitBroadcast(good, 'ping', 1);
  const fresh = await joined(a, 'after-errors', { changes: [ALL_NOTES] });
  await insert(a, { title: 'after-errors-2', rank: 7 });
  await Promise.all([waitChange(good, 'INSERT after-errors-2'), waitChange(fresh, 'INSERT after-errors-2')]);
  await sleep(GRACE_MS);
  // and nothing reached the failed ones (a rank=7 row matches none of the bad filters' intent)
  const names = Object.keys(bad);
  failed.forEach((c, i) => assert.deepEqual(changesOf(c).map(brief), [], `${names[i]}: changes delivered`));
  assert.deepEqual(changesOf(good).map(brief), ['INSERT after-errors', 'INSERT after-errors-2']);
  await Promise.all([good, fresh, ...failed.filter((c) => c.failure.kind === 'system')].map(leave));
});

test('malformed frames, unknown events and unjoined topics get an error reply; the socket keeps working', TEST, async () => {
  const ws = new WebSocket(`${BKND_URL.replace(/^http/, 'ws')}/realtime/v1/websocket?apikey=${ANON_KEY}&vsn=${VSN}`);
  await new Promise((resolve, reject) => {
    ws.on('open', resolve);
    ws.on('error', reject);
  });
  const received = [];
  ws.on('message', (data, isBinary) => received.push(isBinary ? { binary: true } : JSON.parse(data.toString())));
  const frame = (ref, topic, event, payload) =>
    VSN === '2.0.0' ? JSON.stringify([null, ref, topic, event, payload]) : JSON.stringify({ ref, topic, event, payload });
  const fields = (m) => (Array.isArray(m) ? { ref: m[1], topic: m[2], event: m[3], payload: m[4] } : m);
  ws.send('not json');
  ws.send(VSN === '2.0.0' ? '{"an": "object"}' : '[1, 2, 3]');
  ws.send(Buffer.from([9, 1, 2])); // a binary kind the server does not take
  ws.send(Buffer.from([3, 5, 5])); // a kind-3 broadcast cut short
  ws.send(frame('7', 'realtime:nowhere', 'broadcast', { type: 'broadcast', event: 'x', payload: {} }));
  ws.send(frame('8', 'phoenix', 'dance', {}));
  ws.send(frame('9', 'phoenix', 'heartbeat', {}));
  await until(() => received.map(fields).find((m) => m.ref === '9'), 'the heartbeat reply');
  const replies = received.map(fields);
  const errors = replies.filter((m) => m.event === 'phx_reply' && m.payload?.status === 'error');
  assert.equal(errors.length, 6, JSON.stringify(replies));
  assert.equal(replies.find((m) => m.ref === '7').payload.response.reason, 'unmatched topic');
  assert.match(replies.find((m) => m.ref === '8').payload.response.reason, /unknown event/);
  assert.equal(replies.find((m) => m.ref === '9').payload.status, 'ok');
  assert.ok(!received.some((m) => m.binary), 'the server sent a binary frame');
  ws.close();
});

test('limits: 100 channels per socket and 100 messages a second, each refused with a reason; a frame over 1 MiB closes the socket', TEST, async () => {
  const connect = async () => {
    const ws = new WebSocket(`${BKND_URL.replace(/^http/, 'ws')}/realtime/v1/websocket?apikey=${ANON_KEY}&vsn=2.0.0`);
    await new Promise((resolve, reject) => {
      ws.on('open', resolve);
      ws.on('error', reject);
    });
    ws.received = [];
    ws.on('message', (data) => ws.received.push(JSON.parse(data.toString())));
    return ws;
  };
  const reply = (ws, ref) => until(() => ws.received.find((m) => m[1] === ref && m[3] === 'phx_reply'), `reply ${ref}`);
  // joins, paced under the message limit: the 101st is refused
  const joins = await connect();
  for (let i = 1; i <= 101; i++) {
    joins.send(JSON.stringify([String(i), String(i), `realtime:limit-${i}`, 'phx_join', { config: {} }]));
    if (i % 50 === 0) await sleep(1100);
  }
  assert.equal((await reply(joins, '100'))[4].status, 'ok');
  const refusedJoin = await reply(joins, '101');
  assert.equal(refusedJoin[4].status, 'error');
  assert.match(refusedJoin[4].response.reason, /Too many channels/);
  joins.close();
  // 150 heartbeats at once: the ones past 100 in that second are refused, and say why
  const busy = await connect();
  for (let i = 1; i <= 150; i++) busy.send(JSON.stringify([null, `h${i}`, 'phoenix', 'heartbeat', {}]));
  const last = await reply(busy, 'h150');
  assert.equal(last[4].status, 'error');
  assert.match(last[4].response.reason, /Too many messages per second/);
  assert.equal((await reply(busy, 'h1'))[4].status, 'ok');
  busy.close();
  // a frame over the limit ends the connection: the server sends close code 1009 (message too
  // big), which the client sees unless the rest of the 1.1 MB it was still sending makes the
  // server's TCP stack reset the connection first (then 1006)
  const big = await connect();
  const closed = new Promise((resolve) => big.on('close', (code) => resolve(code)));
  big.on('error', () => {});
  big.send(JSON.stringify([null, 'big', 'phoenix', 'heartbeat', { pad: 'x'.repeat(1100 * 1024) }]));
  const code = await Promise.race([closed, atMost(WAIT_MS).then(() => 'still open')]);
  assert.ok([1009, 1006].includes(code), `close code ${code}`);
  // and nobody else noticed
  const other = await connect();
  other.send(JSON.stringify([null, 'ok', 'phoenix', 'heartbeat', {}]));
  assert.equal((await reply(other, 'ok'))[4].status, 'ok');
  other.close();
});

test('enable_realtime and disable_realtime take effect for new joins, without a restart', TEST, async () => {
  const a = client(TOKEN_A, 'A');
  const later = { event: '*', schema: 'public', table: 'later' };
  const before = await failedJoin(a, 'later-0', { changes: [later] });
  if (before.failure.kind === 'system') await leave(before);

  // the sidecar may learn of the change asynchronously: each step gets a few attempts
  await sql(`SELECT bknd.enable_realtime('later')`);
  await eventually(async (attempt) => {
    const c = await joined(a, `later-1-${attempt}`, { changes: [later] });
    try {
      const title = `now it publishes ${attempt}`;
      await insert(a, { title }, 'later');
      await c.log.wait((e) => e.kind === 'change' && e.new?.title === title, `change "INSERT ${title}"`, 3_000);
    } finally {
      await leave(c);
    }
  });

  await sql(`SELECT bknd.disable_realtime('later')`);
  await eventually(async (attempt) => {
    const after = await failedJoin(a, `later-2-${attempt}`, { changes: [later] });
    if (after.failure.kind === 'system') await leave(after);
  });
});

// ---------------------------------------------------------------------------------------------
// two sidecars on one database (BKND_URL_2); the second one's clients speak the other vsn

const TWO = { ...TEST, skip: !BKND_URL_2 && 'needs BKND_URL_2 (tests/tests/realtime.rs runs these with two sidecars)' };

test('two sidecars: a change or a broadcast through one reaches the clients of the other', TWO, async () => {
  const a1 = client(TOKEN_A, 'A@1');
  const a2 = client(TOKEN_A, 'A@2', { url: BKND_URL_2, vsn: OTHER_VSN });
  const b2 = client(TOKEN_B, 'B@2', { url: BKND_URL_2, vsn: OTHER_VSN });
  const [changesA, changesB] = await Promise.all([
    joined(a2, 'x-notes-a', { changes: [ALL_NOTES] }),
    joined(b2, 'x-notes-b', { changes: [ALL_NOTES] }),
  ]);
  // REST through sidecar 1, seen at sidecar 2, and only by the owner
  const row = await insert(a1, { title: 'via-1', rank: 1 });
  await waitChange(changesA, 'INSERT via-1');
  await update(a1, row.id, { rank: 2 });
  await waitChange(changesA, 'UPDATE via-1');
  await remove(a1, row.id);
  await waitChange(changesA, 'DELETE via-1');
  await psqlInsert({ title: 'x-end-B', owner: USER_B });
  await waitChange(changesB, 'INSERT x-end-B');
  await sleep(GRACE_MS);
  assert.deepEqual(changesOf(changesA).map(brief), ['INSERT via-1', 'UPDATE via-1', 'DELETE via-1']);
  assert.deepEqual(changesOf(changesB).map(brief).filter((x) => x !== 'DELETE via-1'), ['INSERT x-end-B']);

  // broadcast both ways, from REST at sidecar 1, and from SQL
  const s1 = await joined(a1, 'x-chat', { config: { broadcast: { ack: true } }, broadcasts: ['*'] });
  const s2 = await joined(b2, 'x-chat', { config: { broadcast: { ack: true } }, broadcasts: ['*'] });
  assert.equal(await s1.ch.send({ type: 'broadcast', event: 'msg', payload: { n: 1 } }), 'ok');
  await waitBroadcast(s2, 'msg', 1);
  assert.equal(await s2.ch.send({ type: 'broadcast', event: 'msg', payload: { n: 2 } }), 'ok');
  await waitBroadcast(s1, 'msg', 2);
  assert.equal(await restBroadcast(TOKEN_A, [{ topic: 'x-chat', event: 'msg', payload: { n: 3 } }], BKND_URL), 202);
  await Promise.all([waitBroadcast(s1, 'msg', 3), waitBroadcast(s2, 'msg', 3)]);
  await sql(`SELECT bknd.realtime_send('x-chat', 'msg', '{"n": 4}'::jsonb)`);
  await Promise.all([waitBroadcast(s1, 'msg', 4), waitBroadcast(s2, 'msg', 4)]);
  await sleep(GRACE_MS);
  assert.deepEqual(broadcastsOf(s1), ['msg:2', 'msg:3', 'msg:4']);
  assert.deepEqual(broadcastsOf(s2), ['msg:1', 'msg:3', 'msg:4']);
  await Promise.all([changesA, changesB, s1, s2].map(leave));
});

test('two sidecars: presence through one is seen by the clients of the other', TWO, async () => {
  const a1 = client(TOKEN_A, 'A@1');
  const b2 = client(TOKEN_B, 'B@2', { url: BKND_URL_2, vsn: OTHER_VSN });
  const p1 = await joined(a1, 'x-lobby', { config: { presence: { key: USER_A } }, presence: true });
  const p2 = await joined(b2, 'x-lobby', { config: { presence: { key: USER_B } }, presence: true });
  assert.equal(await p1.ch.track({ name: 'Ann' }), 'ok');
  assert.equal(await p2.ch.track({ name: 'Bob' }), 'ok');
  const both = { [USER_A]: [{ name: 'Ann' }], [USER_B]: [{ name: 'Bob' }] };
  await until(() => isDeepStrictEqual(presenceOf(p1), both), 'both at sidecar 1');
  await until(() => isDeepStrictEqual(presenceOf(p2), both), 'both at sidecar 2');
  assert.equal(await p1.ch.untrack(), 'ok');
  await p2.log.wait((e) => e.kind === 'presence' && e.event === 'leave' && e.key === USER_A, 'the leave of A at sidecar 2');
  await until(() => isDeepStrictEqual(Object.keys(presenceOf(p2)), [USER_B]), 'only B at sidecar 2');
  await Promise.all([p1, p2].map(leave));
});

/** `bknd serve` on a free port of its own; stopped by the returned function. */
async function startSidecar() {
  const port = await new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
  const child = spawn(process.env.BKND_BIN, ['serve', '--database-url', process.env.AUTHENTICATOR_DATABASE_URL, '--listen', `127.0.0.1:${port}`], {
    stdio: 'ignore',
    env: { ...process.env, BKND_LOG: 'warn' },
  });
  const url = `http://127.0.0.1:${port}`;
  await eventually(async () => assert.equal((await fetch(`${url}/health`)).status, 200), 20_000);
  return { url, stop: (signal = 'SIGTERM') => child.kill(signal) };
}

test('two sidecars: presence tracked before a sidecar starts is in its presence_state; a killed sidecar\'s presences leave', TWO, async () => {
  const a1 = client(TOKEN_A, 'A@1');
  const p1 = await joined(a1, 'x-early', { config: { presence: { key: USER_A } }, presence: true });
  assert.equal(await p1.ch.track({ name: 'Ann' }), 'ok');
  const third = await startSidecar();
  try {
    const b3 = client(TOKEN_B, 'B@3', { url: third.url, vsn: OTHER_VSN });
    // the new sidecar asks the others once its listener is up: a join then knows A at once
    // (presence_state) or soon after (presence_diff)
    const p3 = await joined(b3, 'x-early', { config: { presence: { key: USER_B } }, presence: true });
    await until(() => isDeepStrictEqual(presenceOf(p3), { [USER_A]: [{ name: 'Ann' }] }), 'A at sidecar 3');
    // what it tracks reaches the others as before
    assert.equal(await p3.ch.track({ name: 'Bob' }), 'ok');
    await until(() => isDeepStrictEqual(presenceOf(p1), { [USER_A]: [{ name: 'Ann' }], [USER_B]: [{ name: 'Bob' }] }), 'B at sidecar 1');
    // killed, sidecar 3 cannot say that B left: the others see that its listener is gone
    third.stop('SIGKILL');
    await until(() => isDeepStrictEqual(presenceOf(p1), { [USER_A]: [{ name: 'Ann' }] }), 'B gone at sidecar 1', 45_000);
    await b3.realtime.disconnect();
  } finally {
    third.stop('SIGKILL');
  }
  await leave(p1);
});

// Webhooks (Standard Webhooks, standardwebhooks.com) from bknd to receivers run here: table,
// user and object events in both payload formats, signatures checked with the `standardwebhooks`
// package, retries (after a 5xx, a refused connection, Retry-After), 410 disabling an endpoint,
// secret rotation, resends, the SSRF guard, thin payloads and extra headers.
//
// The Rust test passes BKND_URL (the sidecar, started with --webhook-allow-hosts 127.0.0.1),
// ANON_KEY, SERVICE_KEY (a service_role JWT) and ADMIN_DATABASE_URL (a superuser URL for psql).
// Its fixture: table todos (title, body, done; owner policies for authenticated), bucket `files`
// (private, folder policies for authenticated), auth sign-ups confirmed at once (autoconfirm).
//
// Webhooks are managed the way an operator does, with bknd's SQL functions run by psql; what
// triggers events is done as a user with supabase-js, or from psql where who does it does not
// matter. Each test has its own webhook (named with this run's id) and its own receiver, and
// deletes the webhook when it ends, so that no test sees another's deliveries.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { createClient } from '@supabase/supabase-js';
import { Webhook } from 'standardwebhooks';
import WebSocket from 'ws';

const { BKND_URL, ANON_KEY, SERVICE_KEY, ADMIN_DATABASE_URL } = process.env;
for (const [name, value] of Object.entries({ BKND_URL, ANON_KEY, SERVICE_KEY, ADMIN_DATABASE_URL })) {
  if (!value) throw new Error(`${name} is not set: run this through the Rust webhooks test (make test), which starts the sidecar`);
}

// How long to wait for a delivery that must come. The sidecar is woken by a notification at
// commit, so it is usually there in milliseconds; waiting costs nothing when it comes, so these
// are generous (the machine has two cores and other tests run beside this one).
const WAIT_MS = 15_000;
// A retry: due 5 s (±10 %) after a failure, found by a poll once a second.
const RETRY_WAIT_MS = 25_000;
// After the last expected delivery, how long an unexpected one gets to show up. Most checks do
// not rely on it alone: the delivery log in the database is written in the same transaction as
// the change, so what psql shows there is exact.
const GRACE_MS = 1_500;
const TEST = { timeout: 120_000 };

// Never hang `make test`: whatever is still open after ten minutes, stop.
setTimeout(() => {
  console.error('webhooks.test.mjs: still running after 10 minutes; giving up');
  process.exit(1);
}, 600_000).unref();

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// this run's id, in webhook names and emails: a rerun on the same database does not collide
const RUN = randomBytes(4).toString('hex');
const PASSWORD = 'correct horse battery staple';

// ---------------------------------------------------------------------------------------------
// psql

const execFileAsync = promisify(execFile);
const psqlArgs = ['-X', '-q', '-t', '-A', '-v', 'ON_ERROR_STOP=1', '-d', ADMIN_DATABASE_URL];

/** Run statements as the superuser, each `-c` its own transaction; the output, trimmed. */
async function sql(...statements) {
  const { stdout } = await execFileAsync('psql', [...psqlArgs, ...statements.flatMap((s) => ['-c', s])], { maxBuffer: 16 << 20 });
  return stdout.trim();
}

const lit = (s) => `'${String(s).replaceAll("'", "''")}'`;
const jsonLit = (v) => `${lit(JSON.stringify(v))}::jsonb`;
const textArray = (items) => `ARRAY[${items.map(lit).join(', ')}]::text[]`;

/** One statement whose single value is JSON (a jsonb function's answer). */
async function sqlJson(statement) {
  const out = await sql(statement);
  try {
    return JSON.parse(out);
  } catch {
    throw new Error(`not JSON from ${statement}: ${out}`);
  }
}

/** Insert a todo from psql (its own transaction); its id. `bodySql` is an SQL expression. */
const psqlTodo = (title, bodySql = 'NULL') => sql(`INSERT INTO public.todos (title, body) VALUES (${lit(title)}, ${bodySql}) RETURNING id`);

// ---------------------------------------------------------------------------------------------
// webhooks, as an operator manages them

async function createWebhook(name, url, events, options = {}) {
  return sqlJson(`SELECT bknd.create_webhook(${lit(name)}, ${lit(url)}, ${textArray(events)}, ${jsonLit(options)})`);
}

async function deleteWebhook(name) {
  // the test may have failed before creating it: only an existing one is deleted
  await sql(`SELECT bknd.delete_webhook(name) FROM bknd.webhooks WHERE name = ${lit(name)}`);
}

async function listed(name) {
  const all = await sqlJson('SELECT bknd.list_webhooks()');
  return all.find((w) => w.name === name);
}

/** The delivery log of one webhook, oldest first. */
async function rowsOf(name) {
  return sqlJson(
    `SELECT coalesce(jsonb_agg(to_jsonb(d) ORDER BY d.id), '[]') FROM bknd.webhook_deliveries d
     JOIN bknd.webhooks w ON w.id = d.webhook_id WHERE w.name = ${lit(name)}`,
  );
}

// a log row to print, without its (possibly long) payload
const brief = ({ payload, ...row }) => row;

/** Poll the delivery log of `name` until `pred(rows)` holds; the rows. */
async function untilRows(name, pred, what, ms = WAIT_MS) {
  const deadline = Date.now() + ms;
  for (;;) {
    const rows = await rowsOf(name);
    if (pred(rows)) return rows;
    if (Date.now() > deadline) {
      throw new Error(`${name}: ${what} not within ${ms} ms; the log: ${JSON.stringify(rows.map(brief), null, 1)}`);
    }
    await sleep(200);
  }
}

// ---------------------------------------------------------------------------------------------
// receivers

const servers = new Set();

function listen(server, port, host) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function closeServer(server) {
  servers.delete(server);
  server.closeAllConnections?.();
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * An HTTP server on 127.0.0.1 that records every request (method, path, headers, the raw body
 * as a string, when it arrived) and answers from a queue of {status, headers, body, delayMs},
 * 200 once the queue is empty. Each request is verified on arrival with `secret` (the
 * webhook's, set once the webhook exists): `verifyError` is null when the signature held.
 */
class Receiver {
  constructor(label) {
    this.label = label;
    this.requests = [];
    this.answers = [];
    this.waiters = new Set();
    this.secret = null;
  }

  static async start(label, { port = 0, secret = null } = {}) {
    const rx = new Receiver(label);
    rx.secret = secret;
    rx.server = http.createServer((req, res) => rx.handle(req, res));
    servers.add(rx.server);
    await listen(rx.server, port, '127.0.0.1');
    rx.port = rx.server.address().port;
    rx.url = `http://127.0.0.1:${rx.port}/hook`;
    return rx;
  }

  handle(req, res) {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const entry = { method: req.method, path: req.url, headers: req.headers, body, at: Date.now() };
      try {
        entry.json = JSON.parse(body);
      } catch {
        entry.json = undefined;
      }
      entry.verifiedWith = this.secret;
      try {
        if (!this.secret) throw new Error('the test had no secret yet');
        new Webhook(this.secret).verify(body, req.headers);
        entry.verifyError = null;
      } catch (e) {
        entry.verifyError = String(e?.message ?? e);
      }
      const answer = this.answers.shift() ?? { status: 200 };
      entry.answer = answer.status ?? 200;
      this.requests.push(entry);
      for (const check of [...this.waiters]) check();
      if (answer.delayMs) await sleep(answer.delayMs);
      res.writeHead(answer.status ?? 200, { 'content-type': 'text/plain', ...(answer.headers ?? {}) });
      res.end(answer.body ?? '');
    });
  }

  /** Queue answers for the next requests (then 200 again). */
  answer(...answers) {
    this.answers.push(...answers);
  }

  /** The first request (so far or to come) for which `pred(request, index)` holds; fails after `ms`. */
  waitFor(pred, ms = WAIT_MS, what = 'the expected request') {
    return new Promise((resolve, reject) => {
      let timer = null;
      const check = () => {
        const i = this.requests.findIndex(pred);
        if (i < 0) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(this.requests[i]);
      };
      timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`${this.label}: ${what} not within ${ms} ms; received ${this.summary()}`));
      }, ms);
      this.waiters.add(check);
      check();
    });
  }

  /** The requests so far, short enough to print. */
  summary() {
    return JSON.stringify(
      this.requests.map((r) => ({ id: r.headers['webhook-id'], type: r.json?.type, answer: r.answer, at: r.at, verifyError: r.verifyError, body: r.body.slice(0, 300) })),
      null,
      1,
    );
  }

  close() {
    return closeServer(this.server);
  }
}

/** Every request this receiver got carried a valid Standard Webhooks signature. */
function assertAllSigned(rx) {
  for (const r of rx.requests) {
    assert.equal(r.verifyError, null, `${rx.label}: request ${r.headers['webhook-id']} did not verify: ${r.verifyError}\n${rx.summary()}`);
  }
}

/**
 * The Standard Webhooks shape of one request: a JSON POST with webhook-id (msg_...),
 * webhook-timestamp (close to its arrival) and a signature `secret` verifies. Its payload.
 */
function checkRequest(r, secret) {
  assert.equal(r.method, 'POST');
  assert.equal(r.path, '/hook');
  assert.match(r.headers['content-type'], /^application\/json/);
  assert.match(r.headers['webhook-id'] ?? '', /^msg_\w+$/);
  const ts = Number(r.headers['webhook-timestamp']);
  assert.ok(Number.isInteger(ts), `webhook-timestamp ${r.headers['webhook-timestamp']}`);
  assert.ok(Math.abs(ts - r.at / 1000) <= 60, `webhook-timestamp ${ts} is more than 60 s from the arrival ${r.at / 1000}`);
  let payload;
  assert.doesNotThrow(() => {
    payload = new Webhook(secret).verify(r.body, r.headers);
  }, `signature of ${r.headers['webhook-id']}`);
  assert.deepEqual(payload, r.json);
  return payload;
}

/** A standard payload's `timestamp`: RFC 3339 in UTC, near the arrival. */
function checkTimestamp(payload, r) {
  assert.match(payload.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/, `timestamp ${payload.timestamp}`);
  assert.ok(Math.abs(Date.parse(payload.timestamp) - r.at) <= 60_000, `timestamp ${payload.timestamp} is far from ${new Date(r.at).toISOString()}`);
}

/**
 * A receiver and a webhook to it on `events` (or to `url`, with no receiver), both gone when the
 * test ends: the webhook first, so that nothing is sent to a closed port.
 */
async function setUp(t, label, events, options = {}, { url } = {}) {
  const name = `wh-${label}-${RUN}`;
  const rx = url ? null : await Receiver.start(label);
  t.after(async () => {
    await deleteWebhook(name);
    await rx?.close();
  });
  const hook = await createWebhook(name, url ?? rx.url, events, options);
  assert.match(hook.secret, /^whsec_[A-Za-z0-9+/=]+$/);
  if (rx) rx.secret = hook.secret;
  return { rx, name, hook, secret: hook.secret };
}

const idOf = (r) => r.headers['webhook-id'];

// ---------------------------------------------------------------------------------------------
// clients

const clientOpts = { auth: { persistSession: false, autoRefreshToken: false }, realtime: { transport: WebSocket } };
const service = createClient(BKND_URL, SERVICE_KEY, clientOpts);

/** A new user, signed up (and so signed in) on a client of their own. */
async function signedUp(label) {
  const sb = createClient(BKND_URL, ANON_KEY, clientOpts);
  const email = `${label}-${RUN}@example.com`;
  const { data, error } = await sb.auth.signUp({ email, password: PASSWORD });
  assert.equal(error, null, `sign-up of ${email}: ${JSON.stringify(error)}`);
  assert.ok(data.session, `sign-up of ${email} gave no session: the fixture must leave auth autoconfirm on`);
  return { sb, email, user: data.user, session: data.session };
}

const claimsOf = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());

/** A free port on 127.0.0.1 now: listen on 0, note the port, close. */
async function freePort() {
  const s = net.createServer();
  await listen(s, 0, '127.0.0.1');
  const { port } = s.address();
  await new Promise((resolve) => s.close(resolve));
  return port;
}

after(async () => {
  // whatever a failed test left open, so that the process can exit
  await Promise.allSettled([...servers].map(closeServer));
});

// ---------------------------------------------------------------------------------------------

test('table events (standard format): insert, update and delete by a user arrive signed, in order', TEST, async (t) => {
  const { rx, name, hook, secret } = await setUp(t, 'table', ['todos.*']);
  assert.deepEqual(hook.events, ['todos.*']);
  assert.equal(hook.format, 'standard');
  assert.equal(hook.enabled, true);
  assert.equal(hook.name, name);

  const { sb, user } = await signedUp('table');
  // each change its own transaction (its own REST call), each awaited before the next
  const ins = await sb.from('todos').insert({ title: 't1', body: 'b1' }).select().single();
  assert.equal(ins.error, null, JSON.stringify(ins.error));
  const id = ins.data.id;
  const r1 = await rx.waitFor((r) => r.json?.type === 'todos.insert' && r.json.data?.record?.id === id, WAIT_MS, 'todos.insert');
  const upd = await sb.from('todos').update({ title: 't1*' }).eq('id', id).select().single();
  assert.equal(upd.error, null, JSON.stringify(upd.error));
  const r2 = await rx.waitFor((r) => r.json?.type === 'todos.update', WAIT_MS, 'todos.update');
  const del = await sb.from('todos').delete().eq('id', id).select();
  assert.equal(del.error, null, JSON.stringify(del.error));
  assert.equal(del.data.length, 1);
  const r3 = await rx.waitFor((r) => r.json?.type === 'todos.delete', WAIT_MS, 'todos.delete');

  assert.deepEqual(rx.requests.map((r) => r.json?.type), ['todos.insert', 'todos.update', 'todos.delete'], rx.summary());
  const [p1, p2, p3] = [r1, r2, r3].map((r) => checkRequest(r, secret));
  [p1, p2, p3].forEach((p, i) => checkTimestamp(p, [r1, r2, r3][i]));
  assert.equal(new Set([r1, r2, r3].map(idOf)).size, 3, 'three events, three webhook-ids');

  for (const p of [p1, p2, p3]) {
    assert.deepEqual(Object.keys(p).sort(), ['data', 'timestamp', 'type']);
    assert.equal(p.data.schema, 'public');
    assert.equal(p.data.table, 'todos');
  }
  // insert: the new row, no old one
  assert.equal(p1.data.record.id, id);
  assert.equal(p1.data.record.title, 't1');
  assert.equal(p1.data.record.body, 'b1');
  assert.equal(p1.data.record.done, false);
  assert.equal(p1.data.record.owner_id, user.id);
  assert.equal(p1.data.old_record, null);
  // update: both
  assert.equal(p2.data.record.id, id);
  assert.equal(p2.data.record.title, 't1*');
  assert.equal(p2.data.old_record.id, id);
  assert.equal(p2.data.old_record.title, 't1');
  // delete: the old row, no new one
  assert.equal(p3.data.record, null);
  assert.equal(p3.data.old_record.id, id);
  assert.equal(p3.data.old_record.title, 't1*');

  // the log: each delivered at the first attempt, with the ids the receiver saw (the report of
  // an attempt follows its answer, so the last may still be on its way)
  const rows = await untilRows(name, (rows) => rows.length === 3 && rows.every((d) => d.status === 'delivered'), 'three deliveries delivered');
  assert.deepEqual(rows.map((d) => d.event_type), ['todos.insert', 'todos.update', 'todos.delete']);
  assert.deepEqual(rows.map((d) => d.event_id), [r1, r2, r3].map(idOf));
  for (const d of rows) {
    assert.equal(d.webhook_id, hook.id);
    assert.equal(d.attempts, 1);
    assert.equal(d.last_status, 200);
    assert.equal(d.last_error, null);
    assert.ok(d.delivered_at, 'delivered_at');
    assert.ok(Number.isInteger(d.latency_ms) && d.latency_ms >= 0, `latency_ms ${d.latency_ms}`);
  }
  assertAllSigned(rx);
});

test('supabase format: an INSERT arrives as Supabase database webhooks send it; other operations do not', TEST, async (t) => {
  const { rx, name, hook, secret } = await setUp(t, 'supabase', ['todos.insert'], { format: 'supabase' });
  assert.equal(hook.format, 'supabase');
  assert.deepEqual(hook.events, ['todos.insert']);

  const id = await psqlTodo('s1');
  const r1 = await rx.waitFor((r) => r.json?.record?.title === 's1', WAIT_MS, 'the INSERT of s1');
  const p1 = checkRequest(r1, secret);
  assert.deepEqual(Object.keys(p1).sort(), ['old_record', 'record', 'schema', 'table', 'type']);
  assert.equal(p1.type, 'INSERT');
  assert.equal(p1.table, 'todos');
  assert.equal(p1.schema, 'public');
  assert.equal(p1.record.id, id);
  assert.equal(p1.record.done, false);
  assert.equal(p1.old_record, null);

  // an update and a delete the webhook is not subscribed to, then a sentinel insert: when it
  // has arrived, anything logged before it has too
  await sql(`UPDATE public.todos SET title = 's1*' WHERE id = ${lit(id)}`);
  await sql(`DELETE FROM public.todos WHERE id = ${lit(id)}`);
  const id2 = await psqlTodo('s2');
  await rx.waitFor((r) => r.json?.record?.id === id2, WAIT_MS, 'the INSERT of s2');
  await sleep(GRACE_MS);
  assert.deepEqual(rx.requests.map((r) => `${r.json?.type} ${r.json?.record?.title}`), ['INSERT s1', 'INSERT s2'], rx.summary());
  const rows = await rowsOf(name);
  assert.deepEqual(rows.map((d) => d.event_type), ['todos.insert', 'todos.insert']);
  assertAllSigned(rx);
});

// Words that must not be in a user event: nothing secret about a user goes out. (The session's
// `amr` names the sign-in method, "password"; it is left out of the check, as it is no secret.)
const SECRET_WORDS = /password|hash|encrypted_password|token|factor|secret/i;

function assertNoSecrets(r) {
  const p = structuredClone(r.json);
  if (p?.data?.session) delete p.data.session.amr;
  const text = p?.data?.session ? JSON.stringify(p) : r.body;
  assert.doesNotMatch(text, SECRET_WORDS, `${r.json?.type} carries something secret: ${r.body}`);
}

const USER_KEYS = ['app_metadata', 'banned_until', 'created_at', 'email', 'email_confirmed_at', 'id', 'is_anonymous', 'last_sign_in_at', 'role', 'updated_at', 'user_metadata'];

test('user events: created, signed_in, updated, deleted, without a password hash, token or factor', TEST, async (t) => {
  const { rx, secret } = await setUp(t, 'users', ['user.created', 'user.signed_in', 'user.updated', 'user.deleted']);

  const { sb, email, user } = await signedUp('users');
  const created = await rx.waitFor((r) => r.json?.type === 'user.created' && r.json.data?.user?.email === email, WAIT_MS, 'user.created');
  const pc = checkRequest(created, secret);
  checkTimestamp(pc, created);
  assert.deepEqual(Object.keys(pc.data), ['user']);
  assert.deepEqual(Object.keys(pc.data.user).sort(), USER_KEYS);
  assert.equal(pc.data.user.id, user.id);
  assert.equal(pc.data.user.role, 'authenticated');
  assert.ok(pc.data.user.email_confirmed_at, 'autoconfirmed: email_confirmed_at is set');
  assert.equal(pc.data.user.is_anonymous, false);
  assertNoSecrets(created);

  // (the sign-up's own session may be a user.signed_in too; this one is the sign-in's)
  const signIn = await sb.auth.signInWithPassword({ email, password: PASSWORD });
  assert.equal(signIn.error, null, JSON.stringify(signIn.error));
  const sessionId = claimsOf(signIn.data.session.access_token).session_id;
  assert.ok(sessionId, 'the access token names its session');
  const signedIn = await rx.waitFor((r) => r.json?.type === 'user.signed_in' && r.json.data?.session?.id === sessionId, WAIT_MS, 'user.signed_in');
  const ps = checkRequest(signedIn, secret);
  assert.deepEqual(Object.keys(ps.data).sort(), ['session', 'user']);
  assert.deepEqual(Object.keys(ps.data.session).sort(), ['aal', 'amr', 'created_at', 'id']);
  assert.equal(ps.data.session.aal, 'aal1');
  assert.ok(Array.isArray(ps.data.session.amr), `amr ${JSON.stringify(ps.data.session.amr)}`);
  assert.equal(ps.data.user.id, user.id);
  assert.deepEqual(Object.keys(ps.data.user).sort(), USER_KEYS);
  assertNoSecrets(signedIn);

  const upd = await sb.auth.updateUser({ data: { nick: 'x' } });
  assert.equal(upd.error, null, JSON.stringify(upd.error));
  const updated = await rx.waitFor((r) => r.json?.type === 'user.updated' && r.json.data?.user?.user_metadata?.nick === 'x', WAIT_MS, 'user.updated');
  const pu = checkRequest(updated, secret);
  assert.equal(pu.data.user.id, user.id);
  assert.deepEqual(Object.keys(pu.data.user).sort(), USER_KEYS);
  assertNoSecrets(updated);

  const gone = await service.auth.admin.deleteUser(user.id);
  assert.equal(gone.error, null, JSON.stringify(gone.error));
  const deleted = await rx.waitFor((r) => r.json?.type === 'user.deleted', WAIT_MS, 'user.deleted');
  const pd = checkRequest(deleted, secret);
  assert.equal(pd.data.user.id, user.id);
  assert.equal(pd.data.user.email, email);
  assertNoSecrets(deleted);

  // in the order they happened, all about this user
  const at = (r) => rx.requests.indexOf(r);
  assert.ok(at(created) < at(signedIn) && at(signedIn) < at(updated) && at(updated) < at(deleted), rx.summary());
  for (const r of rx.requests) {
    assert.equal(r.json?.data?.user?.id, user.id, rx.summary());
    assertNoSecrets(r);
  }
  assertAllSigned(rx);
});

const OBJECT_KEYS = ['bucket_id', 'created_at', 'etag', 'id', 'mime_type', 'name', 'owner_id', 'size', 'updated_at', 'user_metadata'];

test('object events: an upload is object.created, a removal object.deleted, an upsert only object.created', TEST, async (t) => {
  const { rx, name, secret } = await setUp(t, 'objects', ['object.created', 'object.deleted']);
  const { sb, user } = await signedUp('objects');
  const files = sb.storage.from('files');
  const path = `${user.id}/a.txt`;
  const text = (s) => new Blob([s], { type: 'text/plain' });
  const objectEvent = (type, objectName, from = 0) => (r, i) => i >= from && r.json?.type === type && r.json.data?.object?.name === objectName;

  const up = await files.upload(path, text('hello webhooks'));
  assert.equal(up.error, null, JSON.stringify(up.error));
  const created = await rx.waitFor(objectEvent('object.created', path), WAIT_MS, 'object.created');
  const pc = checkRequest(created, secret);
  checkTimestamp(pc, created);
  assert.deepEqual(Object.keys(pc.data), ['object']);
  assert.deepEqual(Object.keys(pc.data.object).sort(), OBJECT_KEYS);
  assert.equal(pc.data.object.bucket_id, 'files');
  assert.equal(pc.data.object.size, 'hello webhooks'.length);
  assert.equal(pc.data.object.owner_id, user.id);
  assert.match(pc.data.object.mime_type, /^text\/plain/);

  const rm = await files.remove([path]);
  assert.equal(rm.error, null, JSON.stringify(rm.error));
  assert.equal(rm.data.length, 1);
  const deleted = await rx.waitFor(objectEvent('object.deleted', path), WAIT_MS, 'object.deleted');
  const pd = checkRequest(deleted, secret);
  assert.equal(pd.data.object.id, pc.data.object.id);
  assert.equal(pd.data.object.bucket_id, 'files');

  // upload anew, then replace it (upsert): the replaced version's removal is no object.deleted,
  // it is the new version's object.created; a sentinel upload ends what there is to see
  const from = rx.requests.length;
  assert.equal((await files.upload(path, text('version one'))).error, null);
  await rx.waitFor(objectEvent('object.created', path, from), WAIT_MS, 'object.created of version one');
  const replaced = await files.upload(path, text('version two, longer'), { upsert: true });
  assert.equal(replaced.error, null, JSON.stringify(replaced.error));
  const v2 = await rx.waitFor((r, i) => objectEvent('object.created', path, from)(r, i) && r.json.data.object.size === 'version two, longer'.length, WAIT_MS, 'object.created of version two');
  const sentinel = `${user.id}/sentinel.txt`;
  assert.equal((await files.upload(sentinel, text('end'))).error, null);
  await rx.waitFor(objectEvent('object.created', sentinel, from), WAIT_MS, 'object.created of the sentinel');
  await sleep(GRACE_MS);
  assert.deepEqual(
    rx.requests.map((r) => `${r.json?.type} ${r.json?.data?.object?.name}`),
    [`object.created ${path}`, `object.deleted ${path}`, `object.created ${path}`, `object.created ${path}`, `object.created ${sentinel}`],
    rx.summary(),
  );
  checkRequest(v2, secret);
  // and the log, written with the changes, agrees
  const rows = await rowsOf(name);
  assert.deepEqual(rows.map((d) => d.event_type), ['object.created', 'object.deleted', 'object.created', 'object.created', 'object.created']);
  assertAllSigned(rx);
});

test('test_webhook sends a webhook.test event naming the webhook', TEST, async (t) => {
  const { rx, name, secret } = await setUp(t, 'ping', ['todos.insert']);
  const sent = await sqlJson(`SELECT bknd.test_webhook(${lit(name)})`);
  assert.ok(Number.isInteger(sent.delivery_id), JSON.stringify(sent));
  assert.match(sent.event_id, /^msg_/);
  const r = await rx.waitFor((r) => idOf(r) === sent.event_id, WAIT_MS, 'webhook.test');
  const p = checkRequest(r, secret);
  checkTimestamp(p, r);
  assert.equal(p.type, 'webhook.test');
  assert.equal(p.data.webhook, name);
  const rows = await untilRows(name, (rows) => rows.some((d) => d.id === sent.delivery_id && d.status === 'delivered'), 'the test delivery delivered');
  assert.equal(rows.find((d) => d.id === sent.delivery_id).event_type, 'webhook.test');
  assert.equal(rx.requests.length, 1);
  assertAllSigned(rx);
});

test('a 500 is retried about 5 s later with the same webhook-id, then delivered', TEST, async (t) => {
  const { rx, name, secret } = await setUp(t, 'retry500', ['todos.insert']);
  rx.answer({ status: 500, body: 'try again' });
  await psqlTodo('r500');
  const first = await rx.waitFor(() => true, WAIT_MS, 'the first attempt');
  // between the attempts the log says why
  const [failed] = await untilRows(name, (rows) => rows.length === 1 && rows[0].status === 'failed' && rows[0].last_status === 500, 'the failed first attempt');
  assert.equal(failed.attempts, 1);
  assert.match(failed.last_error, /^HTTP 500/);
  assert.ok(Date.parse(failed.next_attempt_at) > Date.parse(failed.last_attempt_at), 'a retry is scheduled');

  const second = await rx.waitFor((r, i) => i === 1, RETRY_WAIT_MS, 'the retry');
  assert.equal(idOf(second), idOf(first));
  assert.equal(second.body, first.body);
  const gap = second.at - first.at;
  assert.ok(gap >= 4_500 && gap <= 7_000, `the retry came ${gap} ms after the first attempt (expected 5 s ± 10 %, plus up to a 1 s poll)`);
  checkRequest(first, secret);
  checkRequest(second, secret);
  const rows = await untilRows(name, (rows) => rows[0]?.status === 'delivered', 'delivered at the retry');
  assert.equal(rows.length, 1);
  assert.equal(rows[0].attempts, 2);
  assert.equal(rows[0].last_status, 200);
  assert.equal(rows[0].last_error, null);
  assertAllSigned(rx);
});

test('a refused connection is retried; once a receiver listens there it is delivered', TEST, async (t) => {
  const port = await freePort();
  const { name, secret } = await setUp(t, 'refused', ['todos.insert'], {}, { url: `http://127.0.0.1:${port}/hook` });
  await psqlTodo('nobody home');
  const [failed] = await untilRows(
    name,
    (rows) => rows.length === 1 && rows[0].status === 'failed' && rows[0].attempts === 1 && rows[0].last_error,
    'a failed first attempt',
  );
  assert.equal(failed.last_status, null, 'no HTTP status: nothing answered');
  // the retry is due about 5 s after the failure; the receiver is up well before
  const rx = await Receiver.start('refused', { port, secret });
  t.after(() => rx.close());
  const r = await rx.waitFor(() => true, RETRY_WAIT_MS, 'the retry');
  assert.equal(idOf(r), failed.event_id);
  const p = checkRequest(r, secret);
  assert.equal(p.data.record.title, 'nobody home');
  const [row] = await untilRows(name, (rows) => rows[0]?.status === 'delivered', 'delivered at the retry');
  assert.equal(row.attempts, 2);
  assert.equal(row.last_status, 200);
  assertAllSigned(rx);
});

test('Retry-After: a 429 with Retry-After: 2 is retried after about 2 s', TEST, async (t) => {
  const { rx, name, secret } = await setUp(t, 'retryafter', ['todos.insert']);
  rx.answer({ status: 429, headers: { 'Retry-After': '2' }, body: 'slow down' });
  await psqlTodo('later');
  const first = await rx.waitFor(() => true, WAIT_MS, 'the first attempt');
  const second = await rx.waitFor((r, i) => i === 1, WAIT_MS, 'the retry');
  assert.equal(idOf(second), idOf(first));
  const gap = second.at - first.at;
  assert.ok(gap >= 1_500 && gap <= 4_500, `the retry came ${gap} ms after the first attempt (Retry-After: 2, plus up to a 1 s poll)`);
  checkRequest(second, secret);
  const [row] = await untilRows(name, (rows) => rows[0]?.status === 'delivered', 'delivered at the retry');
  assert.equal(row.attempts, 2);
  assert.equal(row.last_status, 200);
  assertAllSigned(rx);
});

test('410 Gone: the delivery is dead and the webhook disabled until it is enabled again', TEST, async (t) => {
  const { rx, name, secret } = await setUp(t, 'gone', ['todos.insert']);
  rx.answer({ status: 410, body: 'gone' });
  await psqlTodo('g1');
  await rx.waitFor(() => true, WAIT_MS, 'the attempt answered 410');
  const [dead] = await untilRows(name, (rows) => rows[0]?.status === 'dead', 'the delivery dead');
  assert.equal(dead.attempts, 1);
  assert.equal(dead.last_status, 410);
  const off = await listed(name);
  assert.equal(off.enabled, false);
  assert.match(off.disabled_reason ?? '', /410/);
  assert.equal(off.pending, 0);
  assert.equal('secret' in off, false, 'list_webhooks shows no secret');

  // disabled: a change logs nothing for it (the log is written with the change) and nothing comes
  await psqlTodo('g2');
  assert.equal((await rowsOf(name)).length, 1);
  // and it cannot be tested while off
  await assert.rejects(sql(`SELECT bknd.test_webhook(${lit(name)})`), (e) => /disabled/.test(e.stderr ?? ''));
  await sleep(GRACE_MS);
  assert.equal(rx.requests.length, 1, rx.summary());

  const on = await sqlJson(`SELECT bknd.update_webhook(${lit(name)}, '{"enabled": true}')`);
  assert.equal(on.enabled, true);
  assert.equal(on.disabled_reason, null);
  assert.equal((await listed(name)).enabled, true);
  const id = await psqlTodo('g3');
  const r = await rx.waitFor((r) => r.json?.data?.record?.id === id, WAIT_MS, 'a delivery after enabling');
  checkRequest(r, secret);
  await sleep(GRACE_MS);
  // the dead delivery stays dead; g2 was never logged
  assert.deepEqual(rx.requests.map((r) => r.json?.data?.record?.title), ['g1', 'g3'], rx.summary());
  assertAllSigned(rx);
});

test('secret rotation: for a day deliveries carry two signatures, one for each secret', TEST, async (t) => {
  const { rx, name, secret: secret1 } = await setUp(t, 'rotate', ['todos.insert']);
  await psqlTodo('before');
  const r1 = await rx.waitFor(() => true, WAIT_MS, 'a delivery before the rotation');
  checkRequest(r1, secret1);
  assert.equal(r1.headers['webhook-signature'].split(' ').length, 1, r1.headers['webhook-signature']);

  const rotated = await sqlJson(`SELECT bknd.rotate_webhook_secret(${lit(name)})`);
  const secret2 = rotated.secret;
  assert.equal(rotated.name, name);
  assert.match(secret2, /^whsec_/);
  assert.notEqual(secret2, secret1);
  const until = Date.parse(rotated.previous_secret_until) - Date.now();
  assert.ok(until > 23 * 3600_000 && until <= 24 * 3600_000 + 60_000, `previous_secret_until ${rotated.previous_secret_until}`);
  const shown = await listed(name);
  assert.ok(shown.previous_secret_until, 'list_webhooks says the old secret still signs');
  const listing = await sql('SELECT bknd.list_webhooks()');
  for (const s of [secret1, secret2]) assert.ok(!listing.includes(s.slice(6)), 'list_webhooks shows a secret');

  rx.secret = secret2;
  await psqlTodo('after');
  const r2 = await rx.waitFor((r, i) => i === 1, WAIT_MS, 'a delivery after the rotation');
  const parts = r2.headers['webhook-signature'].split(' ');
  assert.equal(parts.length, 2, r2.headers['webhook-signature']);
  assert.ok(parts.every((p) => p.startsWith('v1,')), r2.headers['webhook-signature']);
  checkRequest(r2, secret1);
  checkRequest(r2, secret2);
  // each secret makes exactly one of the two
  const matches = (secret) =>
    parts.filter((part) => {
      try {
        new Webhook(secret).verify(r2.body, { ...r2.headers, 'webhook-signature': part });
        return true;
      } catch {
        return false;
      }
    });
  const [m1, m2] = [matches(secret1), matches(secret2)];
  assert.equal(m1.length, 1);
  assert.equal(m2.length, 1);
  assert.notEqual(m1[0], m2[0]);
  const stranger = `whsec_${randomBytes(24).toString('base64')}`;
  assert.throws(() => new Webhook(stranger).verify(r2.body, r2.headers), /signature/i);
  assertAllSigned(rx);
});

test('resend: the same event again, with the same webhook-id and body, as a new delivery', TEST, async (t) => {
  const { rx, name, secret } = await setUp(t, 'resend', ['todos.insert']);
  await psqlTodo('again');
  const first = await rx.waitFor(() => true, WAIT_MS, 'the delivery');
  const [row] = await untilRows(name, (rows) => rows[0]?.status === 'delivered', 'delivered');
  assert.equal(row.event_id, idOf(first));

  const resent = await sqlJson(`SELECT bknd.resend_webhook_delivery(${row.id})`);
  assert.equal(resent.event_id, row.event_id);
  assert.notEqual(resent.delivery_id, row.id);
  const second = await rx.waitFor((r, i) => i === 1, WAIT_MS, 'the resend');
  assert.equal(idOf(second), idOf(first));
  assert.equal(second.body, first.body);
  checkRequest(first, secret);
  checkRequest(second, secret);
  const rows = await untilRows(name, (rows) => rows.length === 2 && rows.every((d) => d.status === 'delivered'), 'both delivered');
  assert.deepEqual(rows.map((d) => d.id), [row.id, resent.delivery_id]);
  assert.deepEqual(rows.map((d) => d.event_id), [row.event_id, row.event_id]);
  assert.deepEqual(rows[1].payload, rows[0].payload);
  assertAllSigned(rx);
});

test('SSRF guard: another loopback address is refused, by http or https, without a connection', TEST, async (t) => {
  // A TCP server on 127.0.0.2 counting connections: the guard must refuse before connecting
  // (127.0.0.1 is allowed for the tests; 127.0.0.2 is not). Linux answers on all of 127/8.
  let connections = 0;
  const trap = net.createServer((socket) => {
    connections += 1;
    socket.destroy();
  });
  let bindError = null;
  try {
    await listen(trap, 0, '127.0.0.2');
    servers.add(trap);
    t.after(() => closeServer(trap));
  } catch (e) {
    bindError = e;
  }
  const port = bindError ? 9 : trap.address().port;
  const plain = await setUp(t, 'ssrf-http', ['todos.insert'], {}, { url: `http://127.0.0.2:${port}/hook` });
  const tls = await setUp(t, 'ssrf-https', ['todos.insert'], {}, { url: `https://127.0.0.2:${port}/hook` });
  await psqlTodo('ssrf');
  for (const { name } of [plain, tls]) {
    const [row] = await untilRows(name, (rows) => rows[0]?.status === 'failed', 'the refused attempt');
    assert.equal(row.attempts, 1);
    assert.equal(row.last_status, null);
    assert.ok(row.last_error?.startsWith('refused:'), `${name}: last_error ${row.last_error}`);
    assert.ok(row.last_error.includes('127.0.0.2'), `${name}: last_error ${row.last_error}`);
  }
  await t.test('no TCP connection reached 127.0.0.2', { skip: bindError ? `cannot listen on 127.0.0.2 (${bindError.code ?? bindError.message})` : false }, async () => {
    // a connection made anyway would have come before the attempt was recorded; a little more
    await sleep(GRACE_MS);
    assert.equal(connections, 0);
  });
});

test('thin payload: a change over 256 KiB is sent with only the primary key', TEST, async (t) => {
  const { rx, secret } = await setUp(t, 'thin', ['todos.insert']);
  // 300 KiB of text, made by the database (an argument that long would not fit on psql's command line)
  const id = await psqlTodo('big', `repeat('thin payloads ', ${Math.ceil((300 * 1024) / 14)})`);
  const r = await rx.waitFor(() => true, WAIT_MS, 'the thin delivery');
  const p = checkRequest(r, secret);
  assert.equal(p.type, 'todos.insert');
  assert.equal(p.data.thin, true);
  assert.deepEqual(p.data.record, { id });
  assert.equal(p.data.old_record, null);
  assert.equal(p.data.table, 'todos');
  assert.ok(Buffer.byteLength(r.body) < 10 * 1024, `the thin body is ${Buffer.byteLength(r.body)} bytes`);
  assertAllSigned(rx);
});

test("extra headers: the webhook's own headers are sent with each delivery", TEST, async (t) => {
  const { rx, hook, secret } = await setUp(t, 'headers', ['todos.insert'], { headers: { 'X-App-Token': 'abc' } });
  assert.deepEqual(hook.headers, { 'X-App-Token': 'abc' });
  await psqlTodo('with headers');
  const r = await rx.waitFor(() => true, WAIT_MS, 'the delivery');
  assert.equal(r.headers['x-app-token'], 'abc');
  checkRequest(r, secret);
  assertAllSigned(rx);
});

// @supabase/postgrest-js against bknd: a table made with bknd.create_table, policies from
// bknd.allow, two users and anon. The Rust test (tests/tests/e2e_clients.rs) prepares the
// database, starts the sidecar and passes BKND_URL, TOKEN_A, TOKEN_B, ANON_KEY, USER_A, USER_B.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PostgrestClient } from '@supabase/postgrest-js';

const url = `${process.env.BKND_URL}/rest/v1`;
const as = (token) => new PostgrestClient(url, { headers: { apikey: process.env.ANON_KEY, Authorization: `Bearer ${token}` } });
const anon = new PostgrestClient(url, { headers: { apikey: process.env.ANON_KEY } });
const alice = as(process.env.TOKEN_A);
const bob = as(process.env.TOKEN_B);

test('insert with representation sets the owner from the token', async () => {
  const { data, error, status } = await alice
    .from('notes')
    .insert([
      { title: 'alpha', body: 'first', rank: 1, author_id: process.env.AUTHOR_ID },
      { title: 'beta', body: 'second', rank: 2, author_id: process.env.AUTHOR_ID },
      { title: 'gamma', body: 'third', rank: 300 },
    ])
    .select();
  assert.equal(error, null);
  assert.equal(status, 201);
  assert.equal(data.length, 3);
  assert.ok(data.every((n) => n.owner_id === process.env.USER_A));
  const b = await bob.from('notes').insert({ title: 'bob-only', rank: 7 }).select('title, owner_id').single();
  assert.equal(b.error, null);
  assert.deepEqual(b.data, { title: 'bob-only', owner_id: process.env.USER_B });
});

test('each user sees only their own rows; anon sees what its policy allows', async () => {
  const a = await alice.from('notes').select('title').order('title');
  assert.deepEqual(a.data.map((n) => n.title), ['alpha', 'beta', 'gamma']);
  const b = await bob.from('notes').select('title');
  assert.deepEqual(b.data.map((n) => n.title), ['bob-only']);
  const p = await anon.from('notes').select('title');
  assert.equal(p.error, null);
  assert.deepEqual(p.data.map((n) => n.title), ['gamma']); // anon may read rank > 100 only
  // the anon key is a JWT, so (as in PostgREST) a refused write is 403; no token at all is 401
  const w = await anon.from('notes').insert({ title: 'anon' });
  assert.equal(w.status, 403);
  assert.equal(w.error.code, '42501');
  const res = await fetch(`${url}/notes`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"title": "x"}' });
  assert.equal(res.status, 401);
  assert.equal(res.headers.get('www-authenticate'), 'Bearer');
});

test('filters, ordering, range with an exact count', async () => {
  const f = await alice.from('notes').select('title').gt('rank', 1).ilike('title', '%a%').order('rank', { ascending: false });
  assert.deepEqual(f.data.map((n) => n.title), ['gamma', 'beta']);
  const i = await alice.from('notes').select('title').in('title', ['alpha', 'gamma', 'bob-only']).order('title');
  assert.deepEqual(i.data.map((n) => n.title), ['alpha', 'gamma']);
  const o = await alice.from('notes').select('title').or('rank.eq.1,title.eq.gamma').order('title');
  assert.deepEqual(o.data.map((n) => n.title), ['alpha', 'gamma']);
  const r = await alice.from('notes').select('title', { count: 'exact' }).order('rank').range(0, 1);
  assert.equal(r.count, 3);
  assert.equal(r.status, 206);
  assert.deepEqual(r.data.map((n) => n.title), ['alpha', 'beta']);
  const h = await alice.from('notes').select('*', { count: 'exact', head: true });
  assert.equal(h.count, 3);
  assert.equal(h.data, null);
});

test('embedding follows the foreign key', async () => {
  const { data, error } = await alice.from('notes').select('title, authors(name)').eq('title', 'alpha').single();
  assert.equal(error, null);
  assert.deepEqual(data, { title: 'alpha', authors: { name: 'Ann' } });
  const back = await alice.from('authors').select('name, notes(title)').order('title', { referencedTable: 'notes' });
  assert.deepEqual(back.data, [{ name: 'Ann', notes: [{ title: 'alpha' }, { title: 'beta' }] }]);
});

test('upsert, update and delete with representation', async () => {
  const one = await alice.from('notes').select('id').eq('title', 'alpha').single();
  const up = await alice.from('notes').upsert({ id: one.data.id, title: 'alpha2', rank: 1 }).select('title');
  assert.equal(up.error, null);
  assert.deepEqual(up.data, [{ title: 'alpha2' }]);
  const upd = await alice.from('notes').update({ rank: 50 }).eq('title', 'beta').select('title, rank');
  assert.deepEqual(upd.data, [{ title: 'beta', rank: 50 }]);
  // bob cannot touch alice's rows: zero rows, no error
  const hack = await bob.from('notes').update({ title: 'hacked' }).eq('title', 'beta').select();
  assert.equal(hack.error, null);
  assert.deepEqual(hack.data, []);
  const del = await alice.from('notes').delete().eq('title', 'alpha2').select('title');
  assert.deepEqual(del.data, [{ title: 'alpha2' }]);
  const left = await alice.from('notes').select('title').order('title');
  assert.deepEqual(left.data.map((n) => n.title), ['beta', 'gamma']);
});

test('single and maybeSingle', async () => {
  const none = await alice.from('notes').select('title').eq('title', 'nope').single();
  assert.equal(none.error.code, 'PGRST116');
  const maybe = await alice.from('notes').select('title').eq('title', 'nope').maybeSingle();
  assert.equal(maybe.error, null);
  assert.equal(maybe.data, null);
});

test('rpc runs under the caller, so RLS applies inside it', async () => {
  const a = await alice.rpc('note_count');
  assert.equal(a.error, null);
  assert.equal(a.data, 2);
  const b = await bob.rpc('note_count');
  assert.equal(b.data, 1);
  const g = await alice.rpc('titles_like', { pattern: '%a%' }, { get: true }).order('title');
  assert.deepEqual(g.data.map((n) => n.title), ['beta', 'gamma']);
});

test('bad requests get PostgREST error bodies', async () => {
  const col = await alice.from('notes').select('nope');
  assert.equal(col.status, 400);
  assert.equal(col.error.code, '42703');
  const table = await alice.from('nope').select();
  assert.equal(table.status, 404);
  assert.equal(table.error.code, 'PGRST205');
  const type = await alice.from('notes').select().eq('rank', 'not-a-number');
  assert.equal(type.status, 400);
  assert.equal(type.error.code, '22P02');
});

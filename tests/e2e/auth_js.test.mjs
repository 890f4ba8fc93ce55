// supabase-js (auth-js) against bknd's /auth/v1, then the REST API with the signed-in user's
// token. The Rust test (tests/tests/e2e_clients.rs) passes BKND_URL, ANON_KEY, SERVICE_KEY.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from '@supabase/supabase-js';
import WebSocket from 'ws';

const url = process.env.BKND_URL;
// Node 20 has no native WebSocket, which supabase-js's realtime client wants: give it `ws`
const opts = { auth: { persistSession: false, autoRefreshToken: false }, realtime: { transport: WebSocket } };
const supabase = createClient(url, process.env.ANON_KEY, opts);
const admin = createClient(url, process.env.SERVICE_KEY, opts);
const email = 'ada@example.com';
const password = 'correct horse battery staple';

test('signUp returns a session (autoconfirm) and getUser knows the user', async () => {
  const { data, error } = await supabase.auth.signUp({ email, password, options: { data: { name: 'Ada' } } });
  assert.equal(error, null);
  assert.ok(data.session.access_token);
  assert.equal(data.user.email, email);
  assert.equal(data.user.user_metadata.name, 'Ada');
  const again = await supabase.auth.signUp({ email, password });
  assert.equal(again.error.code, 'user_already_exists');
});

test('signInWithPassword, getUser, refreshSession, updateUser', async () => {
  const wrong = await supabase.auth.signInWithPassword({ email, password: 'wrong password!' });
  assert.equal(wrong.error.code, 'invalid_credentials');
  assert.equal(wrong.error.status, 400);
  const { data, error } = await supabase.auth.signInWithPassword({ email: 'ADA@example.com', password });
  assert.equal(error, null);
  const first = data.session;
  assert.equal(first.token_type, 'bearer');
  const me = await supabase.auth.getUser();
  assert.equal(me.error, null);
  assert.equal(me.data.user.id, first.user.id);
  const refreshed = await supabase.auth.refreshSession();
  assert.equal(refreshed.error, null);
  assert.notEqual(refreshed.data.session.refresh_token, first.refresh_token);
  const upd = await supabase.auth.updateUser({ data: { plan: 'pro' } });
  assert.equal(upd.error, null);
  assert.equal(upd.data.user.user_metadata.plan, 'pro');
  assert.equal(upd.data.user.user_metadata.name, 'Ada');
});

test("REST with the user's token sees only the user's rows", async () => {
  const mine = await supabase.from('notes').insert({ title: 'from ada' }).select('title, owner_id').single();
  assert.equal(mine.error, null);
  const me = await supabase.auth.getUser();
  assert.equal(mine.data.owner_id, me.data.user.id); // bknd.uid() is the auth user's id
  const all = await supabase.from('notes').select('title');
  assert.deepEqual(all.data.map((n) => n.title), ['from ada']);
});

test('signOut ends the session: its refresh token stops working', async () => {
  const { data } = await supabase.auth.getSession();
  const refreshToken = data.session.refresh_token;
  const out = await supabase.auth.signOut();
  assert.equal(out.error, null);
  const other = createClient(url, process.env.ANON_KEY, opts);
  const r = await other.auth.refreshSession({ refresh_token: refreshToken });
  assert.ok(r.error, 'refresh after sign-out must fail');
});

test('admin: create, list, ban, delete users with the service_role key', async () => {
  const created = await admin.auth.admin.createUser({ email: 'bob@example.com', password: 'bob password 1', email_confirm: true });
  assert.equal(created.error, null);
  const id = created.data.user.id;
  const list = await admin.auth.admin.listUsers();
  assert.equal(list.error, null);
  assert.deepEqual(list.data.users.map((u) => u.email).sort(), ['ada@example.com', 'bob@example.com']);
  const bob = createClient(url, process.env.ANON_KEY, opts);
  assert.equal((await bob.auth.signInWithPassword({ email: 'bob@example.com', password: 'bob password 1' })).error, null);
  const banned = await admin.auth.admin.updateUserById(id, { ban_duration: '24h' });
  assert.equal(banned.error, null);
  const refused = await bob.auth.signInWithPassword({ email: 'bob@example.com', password: 'bob password 1' });
  assert.equal(refused.error.code, 'user_banned');
  // a user token is not an admin
  const notAdmin = await createClient(url, process.env.ANON_KEY, opts).auth.admin.listUsers();
  assert.ok(notAdmin.error);
  const del = await admin.auth.admin.deleteUser(id);
  assert.equal(del.error, null);
  assert.equal((await admin.auth.admin.listUsers()).data.users.length, 1);
});

// TOTP, computed here independently (RFC 6238, SHA-1, 6 digits, 30 s)
import { createHmac } from 'node:crypto';
function base32Decode(s) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of s.replace(/=+$/, '')) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const bytes = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(bytes);
}
function totp(secret) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 1000 / 30)));
  const d = createHmac('sha1', base32Decode(secret)).update(counter).digest();
  const o = d[19] & 0xf;
  const n = ((d[o] & 0x7f) << 24) | (d[o + 1] << 16) | (d[o + 2] << 8) | d[o + 3];
  return String(n % 1_000_000).padStart(6, '0');
}

test('MFA: enroll a TOTP factor, challenge, verify to aal2', async () => {
  const mfa = createClient(url, process.env.ANON_KEY, opts);
  await mfa.auth.signUp({ email: 'mfa@example.com', password: 'mfa password 1' });
  const before = await mfa.auth.mfa.getAuthenticatorAssuranceLevel();
  assert.equal(before.data.currentLevel, 'aal1');
  const enrolled = await mfa.auth.mfa.enroll({ factorType: 'totp', friendlyName: 'phone' });
  assert.equal(enrolled.error, null);
  assert.ok(enrolled.data.totp.qr_code.startsWith('data:image/svg+xml'));
  const factorId = enrolled.data.id;
  const challenge = await mfa.auth.mfa.challenge({ factorId });
  assert.equal(challenge.error, null);
  const verified = await mfa.auth.mfa.verify({ factorId, challengeId: challenge.data.id, code: totp(enrolled.data.totp.secret) });
  assert.equal(verified.error, null);
  const after = await mfa.auth.mfa.getAuthenticatorAssuranceLevel();
  assert.equal(after.data.currentLevel, 'aal2');
  const factors = await mfa.auth.mfa.listFactors();
  assert.equal(factors.data.totp.length, 1);
  const removed = await mfa.auth.mfa.unenroll({ factorId });
  assert.equal(removed.error, null);
});

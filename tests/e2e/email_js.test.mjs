// supabase-js with email: one-time codes, magic links and password recovery, read from a real
// SMTP sink (aiosmtpd, Maildir in MAIL_DIR). The Rust test starts the sink and the sidecar.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { createClient } from '@supabase/supabase-js';
import WebSocket from 'ws';

const url = process.env.BKND_URL;
const opts = { auth: { persistSession: false, autoRefreshToken: false }, realtime: { transport: WebSocket } };
const client = () => createClient(url, process.env.ANON_KEY, opts);

/** Decode a quoted-printable body, as a mail client would. */
const qp = (s) => s.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16)));

/** Delivery order of a Maildir file: Python names them <secs>.M<usecs>P<pid>Q<counter>.<host>,
 *  with unpadded microseconds, so names do not sort by time; the counter does. */
const delivery = (name) => Number((name.match(/Q(\d+)/) || [0, 0])[1]);

/** The messages the sink holds for `to`, oldest first. */
function mails(to) {
  const dir = join(process.env.MAIL_DIR, 'new');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .sort((a, b) => delivery(a) - delivery(b))
    .map((f) => readFileSync(join(dir, f), 'utf8'))
    .map((m) => (/content-transfer-encoding: quoted-printable/i.test(m) ? qp(m) : m))
    .filter((m) => m.toLowerCase().includes(`to: ${to}`));
}
async function latestMail(to, count) {
  for (let i = 0; i < 100; i++) {
    const m = mails(to);
    if (m.length >= count) return m[m.length - 1];
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no email #${count} for ${to}`);
}
const codeIn = (mail) => mail.match(/code: (\d{6})/)[1];
const linkIn = (mail) => mail.match(/(http\S+\/auth\/v1\/verify\?\S+)/)[1];

test('signInWithOtp then verifyOtp with the emailed code', async () => {
  const c = client();
  const sent = await c.auth.signInWithOtp({ email: 'otp@example.com' });
  assert.equal(sent.error, null);
  const code = codeIn(await latestMail('otp@example.com', 1));
  const wrong = await c.auth.verifyOtp({ email: 'otp@example.com', token: '000000', type: 'email' });
  assert.ok(wrong.error);
  const { data, error } = await c.auth.verifyOtp({ email: 'otp@example.com', token: code, type: 'email' });
  assert.equal(error, null);
  assert.equal(data.user.email, 'otp@example.com');
  assert.ok(data.user.email_confirmed_at);
  // a code works once
  const again = await client().auth.verifyOtp({ email: 'otp@example.com', token: code, type: 'email' });
  assert.equal(again.error.code, 'otp_expired');
});

test('a magic-link click redirects with the session in the fragment, never off the allow-list', async () => {
  const c = client();
  await c.auth.signInWithOtp({ email: 'link@example.com', options: { emailRedirectTo: 'http://app.example.test/welcome' } });
  const mail1 = await latestMail('link@example.com', 1);
  const link = linkIn(mail1);
  const res = await fetch(link, { redirect: 'manual' });
  assert.equal(res.status, 303);
  const location = res.headers.get('location');
  assert.ok(location.startsWith('http://app.example.test/welcome#access_token='), location);
  const fragment = new URLSearchParams(location.split('#')[1]);
  const who = await createClient(url, process.env.ANON_KEY, opts).auth.getUser(fragment.get('access_token'));
  assert.equal(who.data.user.email, 'link@example.com');
  // the same link twice: an error in the fragment
  const replay = await fetch(link, { redirect: 'manual' });
  assert.match(replay.headers.get('location'), /#error=access_denied&error_code=otp_expired/);
  // an open redirect is refused: the link goes to the site URL instead
  await c.auth.signInWithOtp({ email: 'link@example.com', options: { emailRedirectTo: 'https://evil.example/steal' } });
  const evil = linkIn(await latestMail('link@example.com', 2));
  const r2 = await fetch(evil, { redirect: 'manual' });
  assert.ok(r2.headers.get('location').startsWith('http://app.example.test#access_token='), r2.headers.get('location'));
});

test('unknown and known emails answer alike, and nothing is sent for unknown ones', async () => {
  const known = await client().auth.signInWithOtp({ email: 'otp@example.com', options: { shouldCreateUser: false } });
  const unknown = await client().auth.signInWithOtp({ email: 'nobody@example.com', options: { shouldCreateUser: false } });
  assert.equal(known.error, null);
  assert.equal(unknown.error, null);
  assert.deepEqual(unknown.data, known.data);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(mails('nobody@example.com').length, 0);
});

test('password recovery: emailed code, then a new password', async () => {
  const c = client();
  await c.auth.signUp({ email: 'forgot@example.com', password: 'old password 1' });
  const sent = await c.auth.resetPasswordForEmail('forgot@example.com', { redirectTo: 'http://app.example.test/reset' });
  assert.equal(sent.error, null);
  const code = codeIn(await latestMail('forgot@example.com', 1));
  const r = client();
  const v = await r.auth.verifyOtp({ email: 'forgot@example.com', token: code, type: 'recovery' });
  assert.equal(v.error, null);
  const u = await r.auth.updateUser({ password: 'new password 2' });
  assert.equal(u.error, null);
  assert.ok((await client().auth.signInWithPassword({ email: 'forgot@example.com', password: 'old password 1' })).error);
  assert.equal((await client().auth.signInWithPassword({ email: 'forgot@example.com', password: 'new password 2' })).error, null);
});

test('PKCE: the magic link answers ?code=, which only this client (with its verifier) can exchange', async () => {
  const pkce = createClient(url, process.env.ANON_KEY, { ...opts, auth: { ...opts.auth, flowType: 'pkce' } });
  const sent = await pkce.auth.signInWithOtp({ email: 'pkce@example.com', options: { emailRedirectTo: 'http://app.example.test/cb' } });
  assert.equal(sent.error, null);
  const link = linkIn(await latestMail('pkce@example.com', 1));
  const res = await fetch(link, { redirect: 'manual' });
  assert.equal(res.status, 303);
  const location = new URL(res.headers.get('location'));
  assert.equal(location.origin + location.pathname, 'http://app.example.test/cb');
  const code = location.searchParams.get('code');
  assert.ok(code, res.headers.get('location'));
  // another client, without the verifier, cannot use the code
  const thief = createClient(url, process.env.ANON_KEY, { ...opts, auth: { ...opts.auth, flowType: 'pkce' } });
  const stolen = await thief.auth.exchangeCodeForSession(code);
  assert.ok(stolen.error);
  const { data, error } = await pkce.auth.exchangeCodeForSession(code);
  assert.equal(error, null);
  assert.equal(data.user.email, 'pkce@example.com');
  // once only
  assert.ok((await pkce.auth.exchangeCodeForSession(code)).error);
});

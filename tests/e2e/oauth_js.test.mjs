// supabase-js signInWithOAuth against bknd, with a real (small) OAuth / OIDC provider on
// 127.0.0.1 (oauth_provider.py): the browser's redirects are followed by hand. The Rust test
// (tests/tests/e2e_clients.rs) passes BKND_URL, ANON_KEY, PROVIDER_URL and APP_URL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from '@supabase/supabase-js';
import WebSocket from 'ws';

const url = process.env.BKND_URL;
const provider = process.env.PROVIDER_URL;
const app = process.env.APP_URL; // where the app wants to land: allowed by --redirect-allow
const opts = { auth: { persistSession: false, autoRefreshToken: false }, realtime: { transport: WebSocket } };
const client = (flowType = 'implicit') => createClient(url, process.env.ANON_KEY, { ...opts, auth: { ...opts.auth, flowType } });

async function nextUser(profile) {
  const res = await fetch(`${provider}/_next`, { method: 'POST', body: JSON.stringify(profile) });
  assert.equal(res.status, 200);
}

// What a browser does: follow redirects until it reaches the app. Returns the app URL and the
// callback URL bknd was sent to on the way.
async function browse(start) {
  let location = start;
  let callback = null;
  for (let hop = 0; hop < 10; hop++) {
    if (location.startsWith(app) || location.startsWith('http://app.example.test')) return { landed: new URL(location), callback };
    if (location.includes('/auth/v1/callback')) callback = location;
    const res = await fetch(location, { redirect: 'manual' });
    assert.ok([302, 303].includes(res.status), `${location} answered ${res.status}: ${await res.text()}`);
    location = new URL(res.headers.get('location'), location).toString();
  }
  throw new Error(`too many redirects, last ${location}`);
}

const fragment = (landed) => new URLSearchParams(landed.hash.slice(1));

const grace = { sub: 'oidc-grace', email: 'grace@example.com', email_verified: true, name: 'Grace Hopper', picture: 'https://pics.example/g.png' };
const octo = {
  id: 4242, login: 'octocat', name: 'Octo Cat', avatar_url: 'https://pics.example/o.png', email: 'typed@example.com',
  emails: [{ email: 'unverified@example.com', primary: false, verified: false }, { email: 'octo@example.com', primary: true, verified: true }],
};

test('OIDC provider, implicit flow: the session arrives in the fragment; REST sees only own rows', async () => {
  await nextUser(grace);
  const supabase = client();
  const { data, error } = await supabase.auth.signInWithOAuth({ provider: 'acme', options: { redirectTo: `${app}/done`, skipBrowserRedirect: true } });
  assert.equal(error, null);
  const { landed } = await browse(data.url);
  assert.equal(landed.pathname, '/done');
  const f = fragment(landed);
  assert.equal(f.get('error'), null, f.get('error_description'));
  assert.equal(f.get('token_type'), 'bearer');
  assert.ok(f.get('provider_token'));
  const set = await supabase.auth.setSession({ access_token: f.get('access_token'), refresh_token: f.get('refresh_token') });
  assert.equal(set.error, null);
  const { data: me } = await supabase.auth.getUser();
  assert.equal(me.user.email, 'grace@example.com');
  assert.ok(me.user.email_confirmed_at);
  assert.equal(me.user.app_metadata.provider, 'acme');
  assert.deepEqual(me.user.identities.map((i) => i.provider), ['acme']);
  assert.equal(me.user.identities[0].identity_data.sub, 'oidc-grace');
  assert.equal(me.user.user_metadata.name, 'Grace Hopper');
  const claims = JSON.parse(Buffer.from(f.get('access_token').split('.')[1], 'base64url'));
  assert.equal(claims.amr[0].method, 'oauth');

  const note = await supabase.from('notes').insert({ title: 'grace note' }).select('owner_id').single();
  assert.equal(note.error, null);
  assert.equal(note.data.owner_id, me.user.id);

  // the same identity again is the same user
  await nextUser(grace);
  const again = await browse((await client().auth.signInWithOAuth({ provider: 'acme', options: { redirectTo: `${app}/done`, skipBrowserRedirect: true } })).data.url);
  const who = await client().auth.getUser(fragment(again.landed).get('access_token'));
  assert.equal(who.data.user.id, me.user.id);
});

test('GitHub, PKCE flow: ?code= is exchanged for a session with the verified primary email', async () => {
  await nextUser(octo);
  const supabase = client('pkce');
  const { data } = await supabase.auth.signInWithOAuth({ provider: 'github', options: { redirectTo: `${app}/cb`, skipBrowserRedirect: true } });
  assert.match(data.url, /code_challenge=/);
  const { landed, callback } = await browse(data.url);
  const code = landed.searchParams.get('code');
  assert.ok(code, `no code in ${landed}`);
  assert.equal(landed.hash, '');
  const { data: session, error } = await supabase.auth.exchangeCodeForSession(code);
  assert.equal(error, null);
  assert.equal(session.user.email, 'octo@example.com');
  assert.equal(session.user.user_metadata.user_name, 'octocat');
  assert.deepEqual(session.user.identities.map((i) => i.provider), ['github']);
  assert.equal(session.user.identities[0].identity_data.provider_id, '4242');

  // each user sees only their own rows
  const mine = await supabase.from('notes').insert({ title: 'octo note' }).select('title').single();
  assert.equal(mine.error, null);
  const all = await supabase.from('notes').select('title');
  assert.deepEqual(all.data.map((n) => n.title), ['octo note']);

  // the callback works once: replaying the provider's redirect is refused
  const replay = await fetch(callback, { redirect: 'manual' });
  assert.equal(replay.status, 400);
  assert.equal((await replay.json()).error_code, 'bad_oauth_state');
  // and the auth code works once
  assert.ok((await client('pkce').auth.exchangeCodeForSession(code)).error);
});

test('a verified provider email joins the existing account; an unverified one does not', async () => {
  const supabase = client();
  const signed = await supabase.auth.signUp({ email: 'ada@example.com', password: 'correct horse battery staple' });
  assert.equal(signed.error, null);
  const adaId = signed.data.user.id;

  await nextUser({ sub: 'unverified-ada', email: 'ada@example.com', email_verified: false });
  const refused = await browse((await client().auth.signInWithOAuth({ provider: 'acme', options: { redirectTo: `${app}/done`, skipBrowserRedirect: true } })).data.url);
  assert.equal(fragment(refused.landed).get('error_code'), 'email_exists');
  assert.equal(fragment(refused.landed).get('access_token'), null);

  await nextUser({ sub: 'oidc-ada', email: 'ADA@example.com', email_verified: true });
  const linked = await browse((await client().auth.signInWithOAuth({ provider: 'acme', options: { redirectTo: `${app}/done`, skipBrowserRedirect: true } })).data.url);
  const who = await client().auth.getUser(fragment(linked.landed).get('access_token'));
  assert.equal(who.data.user.id, adaId);
  assert.deepEqual(who.data.user.identities.map((i) => i.provider).sort(), ['acme', 'email']);
  // the password still works: the account's email was confirmed before the link
  const pw = await client().auth.signInWithPassword({ email: 'ada@example.com', password: 'correct horse battery staple' });
  assert.equal(pw.error, null);
});

test('refused consent, unknown provider and a foreign redirect_to', async () => {
  await nextUser({ deny: true });
  const denied = await browse((await client().auth.signInWithOAuth({ provider: 'acme', options: { redirectTo: `${app}/done`, skipBrowserRedirect: true } })).data.url);
  assert.equal(fragment(denied.landed).get('error'), 'access_denied');
  assert.equal(fragment(denied.landed).get('error_description'), 'the user said no');

  const unknown = await fetch(`${url}/auth/v1/authorize?provider=nope`, { redirect: 'manual' });
  assert.equal(unknown.status, 400);
  assert.equal((await unknown.json()).error_code, 'validation_failed');

  // an open redirect is refused: the user lands on the site URL instead
  await nextUser(grace);
  const evil = await browse((await client().auth.signInWithOAuth({ provider: 'acme', options: { redirectTo: 'https://app.example.test.evil.com/', skipBrowserRedirect: true } })).data.url);
  assert.equal(evil.landed.origin, 'http://app.example.test');

  // bknd always presented the right client secret, redirect_uri and PKCE verifier
  const log = await (await fetch(`${provider}/_log`)).json();
  assert.equal(log.refused, 0);
});

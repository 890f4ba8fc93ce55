// supabase-js and tus-js-client in a real browser (Debian's chromium, driven by playwright-core),
// on a page from another origin than the API: sign up, sign in, insert and select under RLS,
// upload and download a file, a resumable (TUS) upload. Without CORS every call fails with
// "Failed to fetch". The Rust test (tests/tests/e2e_clients.rs) passes BKND_URL and ANON_KEY.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const BKND = process.env.BKND_URL;
const ANON = process.env.ANON_KEY;

// the app: a page and the clients' browser builds, from the pinned packages
const assets = {
  '/supabase.js': require.resolve('@supabase/supabase-js/dist/umd/supabase.js'),
  '/tus.js': require.resolve('tus-js-client/dist/tus.min.js'),
};
const page_html = `<!doctype html><meta charset="utf-8"><title>app</title>
<script src="/supabase.js"></script><script src="/tus.js"></script>
<script>window.app = supabase.createClient(${JSON.stringify(BKND)}, ${JSON.stringify(ANON)});</script>`;

let server, browser, page, origin;

before(async () => {
  server = http.createServer((req, res) => {
    const file = assets[req.url];
    if (file) {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      fs.createReadStream(file).pipe(res);
    } else {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(page_html);
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  // localhost, not 127.0.0.1, and its own port: another origin than the API's
  origin = `http://localhost:${server.address().port}`;
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
  page = await browser.newPage();
  await page.goto(`${origin}/`);
  assert.notEqual(new URL(BKND).origin, origin);
});

after(async () => {
  await browser?.close();
  server?.close();
});

const stamp = Date.now();

test('sign up, sign in, and rows under RLS', async () => {
  const result = await page.evaluate(async ({ stamp }) => {
    const out = {};
    const bob = await app.auth.signUp({ email: `bob-${stamp}@example.com`, password: 'a long password 1' });
    out.bobError = bob.error?.message ?? null;
    await app.from('notes').insert({ title: "bob's" });
    await app.auth.signOut();
    const up = await app.auth.signUp({ email: `alice-${stamp}@example.com`, password: 'a long password 1' });
    out.signUpError = up.error?.message ?? null;
    await app.auth.signOut();
    const signIn = await app.auth.signInWithPassword({ email: `alice-${stamp}@example.com`, password: 'a long password 1' });
    out.signInError = signIn.error?.message ?? null;
    out.userId = signIn.data.user?.id ?? null;
    const inserted = await app.from('notes').insert({ title: 'from the browser' }).select('title');
    out.insertError = inserted.error?.message ?? null;
    const mine = await app.from('notes').select('title');
    out.titles = (mine.data ?? []).map((r) => r.title);
    out.selectError = mine.error?.message ?? null;
    return out;
  }, { stamp });
  assert.equal(result.bobError, null);
  assert.equal(result.signUpError, null);
  assert.equal(result.signInError, null);
  assert.ok(result.userId);
  assert.equal(result.insertError, null);
  assert.equal(result.selectError, null);
  assert.deepEqual(result.titles, ['from the browser'], "alice sees her row and not bob's");
});

test('upload and download a file', async () => {
  const result = await page.evaluate(async () => {
    const { data: { user } } = await app.auth.getUser();
    const path = `${user.id}/hello.txt`;
    const up = await app.storage.from('avatars').upload(path, new Blob(['hello from a browser'], { type: 'text/plain' }));
    const down = await app.storage.from('avatars').download(path);
    const signed = await app.storage.from('avatars').createSignedUrl(path, 60);
    const viaUrl = signed.data ? await (await fetch(signed.data.signedUrl)).text() : null;
    return { upError: up.error?.message ?? null, text: down.data ? await down.data.text() : down.error?.message, viaUrl };
  });
  assert.equal(result.upError, null);
  assert.equal(result.text, 'hello from a browser');
  assert.equal(result.viaUrl, 'hello from a browser');
});

test('a resumable upload with tus-js-client', async () => {
  const result = await page.evaluate(async ({ bknd }) => {
    const { data: { session } } = await app.auth.getSession();
    const bytes = new Uint8Array(3 * 1024 * 1024 + 7).map((_, i) => i % 251);
    const path = `${session.user.id}/big.bin`;
    const error = await new Promise((resolve) => {
      const upload = new tus.Upload(new Blob([bytes]), {
        endpoint: `${bknd}/storage/v1/upload/resumable`,
        headers: { authorization: `Bearer ${session.access_token}`, 'x-upsert': 'true' },
        chunkSize: 1024 * 1024,
        metadata: { bucketName: 'videos', objectName: path, contentType: 'application/octet-stream' },
        onError: (e) => resolve(String(e)),
        onSuccess: () => resolve(null),
      });
      upload.start();
    });
    const down = await app.storage.from('videos').download(path);
    const got = down.data ? new Uint8Array(await down.data.arrayBuffer()) : new Uint8Array();
    return { error, size: got.length, same: got.length === bytes.length && got.every((b, i) => b === bytes[i]) };
  }, { bknd: BKND });
  assert.equal(result.error, null);
  assert.equal(result.size, 3 * 1024 * 1024 + 7);
  assert.ok(result.same, 'the bytes came back as sent');
});

test("a TOTP factor's QR code renders as an image, with the issuer the app names", async () => {
  const result = await page.evaluate(async () => {
    const { data, error } = await app.auth.mfa.enroll({ factorType: 'totp', friendlyName: 'laptop', issuer: 'My App' });
    if (error) return { error: error.message };
    const img = new Image();
    img.src = data.totp.qr_code;
    const decoded = await img.decode().then(() => true, () => false);
    return { decoded, width: img.naturalWidth, uri: data.totp.uri };
  });
  assert.equal(result.error, undefined);
  assert.ok(result.decoded, 'the browser could not decode the QR code');
  assert.ok(result.width >= 200, `QR code ${result.width} px wide`);
  assert.match(result.uri, /^otpauth:\/\/totp\/My%20App:/);
});

test('realtime: a channel hears the signed-in user\'s inserts and a broadcast sent over HTTP from the page', async () => {
  const result = await page.evaluate(async ({ bknd, anon }) => {
    // the join carries the session's token once setAuth has resolved it
    await app.realtime.setAuth();
    const { data: { session } } = await app.auth.getSession();
    const changes = [];
    const pings = [];
    const channel = app
      .channel('browser-notes')
      .on('postgres_changes', { event: 'INSERT', schema: 'public', table: 'notes' }, (change) => changes.push(change.new.title))
      .on('broadcast', { event: 'ping' }, (message) => pings.push(message.payload.n));
    const status = await new Promise((resolve) => channel.subscribe((s, e) => s !== 'CLOSED' && resolve(e ? `${s} ${e.message}` : s)));
    const inserted = await app.from('notes').insert({ title: 'live from the browser' });
    // the broadcast endpoint from the page: another origin, so it needs CORS too
    const sent = await fetch(`${bknd}/realtime/v1/api/broadcast`, {
      method: 'POST',
      headers: { apikey: anon, authorization: `Bearer ${session.access_token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ messages: [{ topic: 'browser-notes', event: 'ping', payload: { n: 1 } }] }),
    });
    const deadline = Date.now() + 10000;
    while ((changes.length < 1 || pings.length < 1) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await app.removeChannel(channel);
    return { status, insertError: inserted.error?.message ?? null, sent: sent.status, changes, pings };
  }, { bknd: BKND, anon: ANON });
  assert.equal(result.status, 'SUBSCRIBED');
  assert.equal(result.insertError, null);
  assert.equal(result.sent, 202);
  assert.deepEqual(result.changes, ['live from the browser']);
  assert.deepEqual(result.pings, [1]);
});

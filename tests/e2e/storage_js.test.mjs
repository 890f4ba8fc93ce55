// @supabase/storage-js (through supabase-js) against bknd's /storage/v1, with two users whose
// files live under their own folder (bknd.allow_storage(..., 'folder')) and a service_role
// key. The Rust test (tests/tests/e2e_clients.rs) passes BKND_URL, ANON_KEY, SERVICE_KEY,
// TOKEN_A, TOKEN_B, USER_A, USER_B; the bucket `avatars` exists with the folder policies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from '@supabase/supabase-js';
import WebSocket from 'ws';

const url = process.env.BKND_URL;
const { USER_A, USER_B } = process.env;
const as = (token) => createClient(url, process.env.ANON_KEY, {
  auth: { persistSession: false, autoRefreshToken: false },
  realtime: { transport: WebSocket },
  global: { headers: token ? { Authorization: `Bearer ${token}` } : {} },
});
const service = as(process.env.SERVICE_KEY);
const a = as(process.env.TOKEN_A).storage.from('avatars');
const b = as(process.env.TOKEN_B).storage.from('avatars');
const text = (s, type = 'text/plain') => new Blob([s], { type });

test('buckets: service_role creates, lists, gets and updates; a user may not', async () => {
  const made = await service.storage.createBucket('docs', { public: false, fileSizeLimit: '1mb', allowedMimeTypes: ['text/plain'] });
  assert.equal(made.error, null);
  const list = await service.storage.listBuckets();
  assert.deepEqual(list.data.map((x) => x.id).sort(), ['avatars', 'docs', 'videos']);
  const got = await service.storage.getBucket('docs');
  assert.equal(got.data.file_size_limit, 1024 * 1024);
  assert.deepEqual(got.data.allowed_mime_types, ['text/plain']);
  assert.equal((await service.storage.updateBucket('docs', { public: true, fileSizeLimit: 10 })).error, null);
  assert.equal((await service.storage.getBucket('docs')).data.public, true);
  const again = await service.storage.createBucket('docs');
  assert.equal(again.error.statusCode ?? again.error.status, '409');
  const denied = await as(process.env.TOKEN_A).storage.createBucket('mine');
  assert.ok(denied.error, 'a user created a bucket');
});

test('upload, download, overwrite only with upsert; the other user sees nothing', async () => {
  const path = `${USER_A}/hello.txt`;
  const up = await a.upload(path, text('hello from A'));
  assert.equal(up.error, null);
  assert.equal(up.data.path, path);
  assert.equal(up.data.fullPath, `avatars/${path}`);
  const down = await a.download(path);
  assert.equal(down.error, null);
  assert.equal(await down.data.text(), 'hello from A');
  assert.equal(down.data.type, 'text/plain');

  const dup = await a.upload(path, text('again'));
  assert.equal(dup.error.statusCode, '409');
  assert.equal((await a.upload(path, text('hello again from A'), { upsert: true })).error, null);
  assert.equal(await (await a.download(path)).data.text(), 'hello again from A');
  assert.equal((await a.update(path, text('updated by A'))).error, null);
  assert.equal(await (await a.download(path)).data.text(), 'updated by A');

  assert.ok((await b.download(path)).error, 'B downloaded A\'s file');
  assert.ok((await b.upload(path, text('B was here'), { upsert: true })).error, 'B overwrote A\'s file');
  assert.ok((await b.upload(`${USER_A}/from-b.txt`, text('B was here'))).error, 'B wrote into A\'s folder');
  assert.equal(await (await a.download(path)).data.text(), 'updated by A');
  assert.equal((await b.upload(`${USER_B}/b.txt`, text('B\'s own'))).error, null);
});

test('list shows folders and files, only what the policies let one see', async () => {
  const root = await a.list();
  assert.equal(root.error, null);
  assert.deepEqual(root.data.map((e) => [e.name, e.id === null]), [[USER_A, true]]);
  const mine = await a.list(USER_A, { limit: 10, offset: 0, sortBy: { column: 'name', order: 'asc' } });
  assert.deepEqual(mine.data.map((e) => e.name), ['hello.txt']);
  assert.equal(mine.data[0].metadata.mimetype, 'text/plain');
  assert.equal(mine.data[0].metadata.size, 'updated by A'.length);
  assert.deepEqual((await b.list(USER_A)).data, []);
  assert.deepEqual((await service.storage.from('avatars').list()).data.map((e) => e.name).sort(), [USER_A, USER_B].sort());
});

test('signed URLs: only for what the signer can read; tampered or foreign tokens refused', async () => {
  const path = `${USER_A}/hello.txt`;
  const signed = await a.createSignedUrl(path, 60);
  assert.equal(signed.error, null);
  const res = await fetch(signed.data.signedUrl);
  assert.equal(res.status, 200, `${signed.data.signedUrl}: ${await res.clone().text()}`);
  assert.equal(await res.text(), 'updated by A');
  const tampered = signed.data.signedUrl.replace(/token=([^&]{10})/, 'token=AAAAAAAAAA');
  assert.equal((await fetch(tampered)).status, 400);
  // the token is for that path only
  const other = signed.data.signedUrl.replace('hello.txt', 'other.txt');
  assert.equal((await fetch(other)).status, 400);
  assert.ok((await b.createSignedUrl(path, 60)).error, 'B signed A\'s file');
  const many = await a.createSignedUrls([path, `${USER_B}/b.txt`], 60);
  assert.equal(many.data[0].error, null);
  assert.ok(many.data[1].error);
});

test('signed upload URLs: the signer\'s policies decide, the URL works once', async () => {
  const path = `${USER_A}/signed.txt`;
  const signed = await a.createSignedUploadUrl(path);
  assert.equal(signed.error, null);
  const up = await a.uploadToSignedUrl(path, signed.data.token, text('via a signed URL'));
  assert.equal(up.error, null);
  assert.equal(await (await a.download(path)).data.text(), 'via a signed URL');
  const twice = await a.uploadToSignedUrl(path, signed.data.token, text('again'));
  assert.ok(twice.error, 'a signed upload URL worked twice');
  assert.ok((await b.createSignedUploadUrl(`${USER_A}/sneaky.txt`)).error, 'B got an upload URL into A\'s folder');
});

test('move and copy within the policies; remove only one\'s own', async () => {
  assert.equal((await a.move(`${USER_A}/signed.txt`, `${USER_A}/moved.txt`)).error, null);
  assert.ok((await a.download(`${USER_A}/signed.txt`)).error);
  assert.equal(await (await a.download(`${USER_A}/moved.txt`)).data.text(), 'via a signed URL');
  assert.ok((await a.move(`${USER_A}/moved.txt`, `${USER_B}/stolen.txt`)).error, 'A moved a file into B\'s folder');
  assert.ok((await b.move(`${USER_A}/moved.txt`, `${USER_B}/stolen.txt`)).error, 'B moved A\'s file');
  assert.equal((await a.copy(`${USER_A}/moved.txt`, `${USER_A}/copy.txt`)).error, null);
  assert.equal(await (await a.download(`${USER_A}/copy.txt`)).data.text(), 'via a signed URL');

  const byB = await b.remove([`${USER_A}/copy.txt`]);
  assert.deepEqual(byB.data, []);
  assert.equal(await (await a.download(`${USER_A}/copy.txt`)).data.text(), 'via a signed URL');
  const byA = await a.remove([`${USER_A}/copy.txt`, `${USER_A}/moved.txt`]);
  assert.equal(byA.data.length, 2);
  assert.ok((await a.download(`${USER_A}/copy.txt`)).error);
});

test('HTTP: Range, ETag and 304, Cache-Control, public URLs', async () => {
  const path = `${USER_A}/hello.txt`;
  const headers = { Authorization: `Bearer ${process.env.TOKEN_A}`, apikey: process.env.ANON_KEY };
  const full = await fetch(`${url}/storage/v1/object/avatars/${path}`, { headers });
  assert.equal(full.status, 200);
  const etag = full.headers.get('etag');
  assert.ok(etag);
  assert.match(full.headers.get('cache-control'), /max-age=/);
  assert.equal(full.headers.get('content-length'), String('updated by A'.length));
  const part = await fetch(`${url}/storage/v1/object/avatars/${path}`, { headers: { ...headers, Range: 'bytes=0-6' } });
  assert.equal(part.status, 206);
  assert.equal(part.headers.get('content-range'), `bytes 0-6/${'updated by A'.length}`);
  assert.equal(await part.text(), 'updated');
  const tail = await fetch(`${url}/storage/v1/object/avatars/${path}`, { headers: { ...headers, Range: 'bytes=-4' } });
  assert.equal(await tail.text(), 'by A');
  const bad = await fetch(`${url}/storage/v1/object/avatars/${path}`, { headers: { ...headers, Range: 'bytes=100-200' } });
  assert.equal(bad.status, 416);
  const cached = await fetch(`${url}/storage/v1/object/avatars/${path}`, { headers: { ...headers, 'If-None-Match': etag } });
  assert.equal(cached.status, 304);

  // public bucket: anyone reads; the private bucket's public URL gives nothing
  assert.equal((await service.storage.updateBucket('docs', { public: true, fileSizeLimit: null })).error, null);
  assert.equal((await service.storage.from('docs').upload('readme.txt', text('public words'))).error, null);
  const publicUrl = service.storage.from('docs').getPublicUrl('readme.txt').data.publicUrl;
  const pub = await fetch(publicUrl);
  assert.equal(pub.status, 200);
  assert.equal(await pub.text(), 'public words');
  const privateUrl = a.getPublicUrl(path).data.publicUrl;
  assert.equal((await fetch(privateUrl)).status, 404);
});

test('bad input: limits, MIME types and hostile paths are refused and leave nothing', async () => {
  await service.storage.updateBucket('docs', { public: false, fileSizeLimit: 10, allowedMimeTypes: ['text/plain'] });
  const docs = service.storage.from('docs');
  const big = await docs.upload('big.txt', text('more than ten bytes'));
  assert.equal(big.error.statusCode, '413');
  const exe = await docs.upload('x.sh', text('#!/bin/sh', 'application/x-sh'));
  assert.equal(exe.error.statusCode, '415');
  // (storage-js itself drops leading and doubled slashes; raw requests are tested in storage.rs)
  for (const path of ['../escape.txt', 'a/../../b.txt', 'nul\u0000.txt', 'ctl\u0001.txt']) {
    const r = await docs.upload(path, text('x'));
    assert.ok(r.error, `accepted ${JSON.stringify(path)}`);
  }
  const listed = await docs.list();
  assert.deepEqual(listed.data.map((e) => e.name), ['readme.txt']);
});

test('empty and delete buckets', async () => {
  const notEmpty = await service.storage.deleteBucket('docs');
  assert.ok(notEmpty.error);
  assert.equal((await service.storage.emptyBucket('docs')).error, null);
  assert.equal((await service.storage.deleteBucket('docs')).error, null);
  assert.ok((await service.storage.getBucket('docs')).error);
});

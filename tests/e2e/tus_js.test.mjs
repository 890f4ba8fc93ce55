// tus-js-client against bknd's TUS endpoint (/storage/v1/upload/resumable): a 50 MiB upload
// cut off half-way and resumed; the object appears only when complete and its bytes match.
// The Rust test passes BKND_URL, ANON_KEY, TOKEN_A, TOKEN_B, USER_A; bucket `videos` has
// per-user folder policies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import * as tus from 'tus-js-client';
import { createClient } from '@supabase/supabase-js';
import WebSocket from 'ws';

const url = process.env.BKND_URL;
const endpoint = `${url}/storage/v1/upload/resumable`;
const { USER_A } = process.env;
const headersOf = (token) => ({ authorization: `Bearer ${token}`, apikey: process.env.ANON_KEY });
const storageOf = (token) => createClient(url, process.env.ANON_KEY, {
  auth: { persistSession: false, autoRefreshToken: false },
  realtime: { transport: WebSocket },
  global: { headers: { Authorization: `Bearer ${token}` } },
}).storage.from('videos');
const sha = (b) => createHash('sha256').update(b).digest('hex');

async function offsetOf(uploadUrl, token) {
  const res = await fetch(uploadUrl, { method: 'HEAD', headers: { ...headersOf(token), 'Tus-Resumable': '1.0.0' } });
  return { status: res.status, offset: Number(res.headers.get('upload-offset')) };
}

test('a 50 MiB upload interrupted half-way resumes from where it stopped', async () => {
  const data = randomBytes(50 * 1024 * 1024);
  const objectName = `${USER_A}/big.bin`;
  let upload;
  let halfway;
  const interrupted = new Promise((resolve) => { halfway = resolve; });
  let done;
  const finished = new Promise((resolve, reject) => { done = { resolve, reject }; });
  // PATCHes of 8 MiB; the upload stops after the third, so the cut is at a known place
  // (cutting one large PATCH by client progress raced: a late abort let every byte arrive).
  // A PATCH cut off mid-body is tests/tests/storage.rs's a_resumable_patch_cut_off_...
  const CHUNK = 8 * 1024 * 1024;
  let chunks = 0;
  upload = new tus.Upload(data, {
    endpoint,
    headers: headersOf(process.env.TOKEN_A),
    retryDelays: null,
    chunkSize: CHUNK,
    uploadDataDuringCreation: false,
    storeFingerprintForResuming: false,
    metadata: { bucketName: 'videos', objectName, contentType: 'application/octet-stream', cacheControl: '3600' },
    onChunkComplete: () => {
      chunks += 1;
      if (chunks === 3) upload.abort().then(halfway);
    },
    onSuccess: () => done.resolve(),
    onError: (e) => done.reject(e),
  });
  upload.start();
  await interrupted;
  assert.ok(upload.url, 'no upload URL after creation');

  const kept = await offsetOf(upload.url, process.env.TOKEN_A);
  assert.equal(kept.status, 200);
  assert.equal(kept.offset, 3 * CHUNK, `offset after the cut: ${kept.offset}`);
  // not an object yet, and not someone else's to continue
  assert.ok((await storageOf(process.env.TOKEN_A).download(objectName)).error, 'a half upload is visible');
  assert.equal((await offsetOf(upload.url, process.env.TOKEN_B)).status, 404);

  upload.start(); // resumes: HEAD, then PATCH from the offset
  await finished;
  const down = await storageOf(process.env.TOKEN_A).download(objectName);
  assert.equal(down.error, null);
  const bytes = Buffer.from(await down.data.arrayBuffer());
  assert.equal(bytes.length, data.length);
  assert.equal(sha(bytes), sha(data));
});

test('a terminated upload leaves no object; offsets must match; OPTIONS advertises TUS', async () => {
  const opts = await fetch(endpoint, { method: 'OPTIONS' });
  assert.equal(opts.headers.get('tus-version'), '1.0.0');
  const meta = (o) => Object.entries(o).map(([k, v]) => `${k} ${Buffer.from(v).toString('base64')}`).join(',');
  const created = await fetch(endpoint, {
    method: 'POST',
    headers: { ...headersOf(process.env.TOKEN_A), 'Tus-Resumable': '1.0.0', 'Upload-Length': '10',
      'Upload-Metadata': meta({ bucketName: 'videos', objectName: `${USER_A}/gone.bin` }) },
  });
  assert.equal(created.status, 201);
  const at = created.headers.get('location');
  const patch = (offset, body) => fetch(at, {
    method: 'PATCH',
    headers: { ...headersOf(process.env.TOKEN_A), 'Tus-Resumable': '1.0.0', 'Upload-Offset': String(offset), 'Content-Type': 'application/offset+octet-stream' },
    body,
  });
  assert.equal((await patch(0, 'hello')).status, 204);
  assert.equal((await patch(0, 'hello')).status, 409);
  assert.equal((await patch(5, 'way too many bytes')).status, 413);
  const gone = await fetch(at, { method: 'DELETE', headers: { ...headersOf(process.env.TOKEN_A), 'Tus-Resumable': '1.0.0' } });
  assert.equal(gone.status, 204);
  assert.equal((await offsetOf(at, process.env.TOKEN_A)).status, 404);
  const listed = await storageOf(process.env.TOKEN_A).list(USER_A);
  assert.deepEqual(listed.data.map((e) => e.name), ['big.bin']);

  // B may not start an upload into A's folder
  const foreign = await fetch(endpoint, {
    method: 'POST',
    headers: { ...headersOf(process.env.TOKEN_B), 'Tus-Resumable': '1.0.0', 'Upload-Length': '1',
      'Upload-Metadata': meta({ bucketName: 'videos', objectName: `${USER_A}/x.bin` }) },
  });
  assert.equal(foreign.status, 403);
});

// The storage API as the member (/console/api/storage/..., the same routes and JSON as
// /storage/v1), and the uploads: one request for a small file, resumable TUS in 6 MiB chunks
// for a large one. A resumable upload's address is kept in localStorage under the file's
// fingerprint, so choosing the same file again after a reload (or a lost connection) goes on
// from where the server says it stopped.
import { ApiError, request } from './api.js';

const BASE = '/console/api/storage';
const CHUNK = 6 * 1024 * 1024;
/** Files larger than this go resumable. */
export const RESUMABLE_FROM = CHUNK;

/** A storage path with each segment encoded (the slashes stay). */
export function encodePath(path) {
  return path.split('/').map(encodeURIComponent).join('/');
}

export const storage = (method, path, body) => request(method, `${BASE}${path}`, body === undefined ? {} : { body });

export const listBuckets = () => storage('GET', '/bucket');

/** One folder's entries: folders (id null) and files, by name. */
export function listFolder(bucket, prefix, { limit = 1000, offset = 0, search = '' } = {}) {
  const body = { prefix, limit, offset, search, sortBy: { column: 'name', order: 'asc' } };
  return storage('POST', `/object/list/${encodeURIComponent(bucket)}`, body);
}

/** Every file under `prefix`, through its folders (for deleting a folder). */
export async function listFiles(bucket, prefix) {
  const files = [];
  const walk = async (folder) => {
    for (let offset = 0; ; offset += 1000) {
      const page = (await listFolder(bucket, folder, { offset })) || [];
      for (const entry of page) {
        const path = folder ? `${folder}/${entry.name}` : entry.name;
        if (entry.id) files.push(path);
        else await walk(path);
      }
      if (page.length < 1000) return;
    }
  };
  await walk(prefix);
  return files;
}

/** The URL the member's browser downloads an object from (the session cookie goes along). */
export function downloadUrl(bucket, path, download = false) {
  return `${BASE}/object/authenticated/${encodeURIComponent(bucket)}/${encodePath(path)}${download ? '?download' : ''}`;
}

function b64(text) {
  const bytes = new TextEncoder().encode(text);
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

/** One request with upload progress (fetch has none): {status, header(name), text}. */
function send(method, url, headers, body, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, url);
    xhr.withCredentials = true;
    for (const [k, v] of Object.entries(headers)) xhr.setRequestHeader(k, v);
    if (onProgress) xhr.upload.onprogress = (e) => onProgress(e.loaded);
    xhr.onload = () => resolve({ status: xhr.status, header: (n) => xhr.getResponseHeader(n), text: xhr.responseText });
    xhr.onerror = () => reject(new ApiError(0, 'network', 'the upload was cut off (the connection failed)'));
    xhr.onabort = () => reject(new ApiError(0, 'aborted', 'the upload was stopped'));
    xhr.send(body);
  });
}

function failure(answer) {
  let message = `${answer.status}`;
  let code = String(answer.status);
  try {
    const body = JSON.parse(answer.text);
    message = body.message || body.error || message;
    code = body.error || body.code || code;
  } catch {
    // not JSON
  }
  return new ApiError(answer.status, code, message);
}

const CONSOLE = { 'x-bknd-console': '1' };

/**
 * Upload `file` to `bucket` at `path`. onProgress(sentBytes, totalBytes); onResume(offset)
 * when a resumable upload goes on from an earlier one.
 */
export async function upload(bucket, path, file, { upsert = false, onProgress = () => {}, onResume = () => {} } = {}) {
  if (file.size <= RESUMABLE_FROM) {
    const headers = { ...CONSOLE, 'content-type': file.type || 'application/octet-stream', 'x-upsert': String(upsert) };
    const url = `${BASE}/object/${encodeURIComponent(bucket)}/${encodePath(path)}`;
    const answer = await send('POST', url, headers, file, (sent) => onProgress(sent, file.size));
    if (answer.status >= 300) throw failure(answer);
    onProgress(file.size, file.size);
    return;
  }
  await resumable(bucket, path, file, upsert, onProgress, onResume);
}

const TUS = { ...CONSOLE, 'tus-resumable': '1.0.0' };

function fingerprint(bucket, path, file) {
  return `bknd-console-tus:${bucket}/${path}:${file.size}:${file.lastModified}`;
}

/** The address and offset of an earlier upload of this file, if the server still has it. */
async function earlier(key) {
  const url = localStorage.getItem(key);
  if (!url) return null;
  const answer = await send('HEAD', url, TUS, null);
  const offset = Number(answer.header('upload-offset'));
  if (answer.status !== 200 || !Number.isFinite(offset)) {
    localStorage.removeItem(key);
    return null;
  }
  return { url, offset };
}

async function resumable(bucket, path, file, upsert, onProgress, onResume) {
  const key = fingerprint(bucket, path, file);
  let at = await earlier(key);
  if (at && at.offset > 0) onResume(at.offset);
  if (!at) {
    const metadata = [
      ['bucketName', bucket],
      ['objectName', path],
      ['contentType', file.type || 'application/octet-stream'],
      ['cacheControl', '3600'],
    ]
      .map(([k, v]) => `${k} ${b64(v)}`)
      .join(',');
    const headers = { ...TUS, 'upload-length': String(file.size), 'upload-metadata': metadata, 'x-upsert': String(upsert) };
    const created = await send('POST', `${BASE}/upload/resumable`, headers, null);
    const url = created.header('location');
    if (created.status !== 201 || !url) throw failure(created);
    localStorage.setItem(key, url);
    at = { url, offset: 0 };
  }
  let offset = at.offset;
  let retries = 0;
  onProgress(offset, file.size);
  while (offset < file.size) {
    const chunk = file.slice(offset, offset + CHUNK);
    const headers = { ...TUS, 'upload-offset': String(offset), 'content-type': 'application/offset+octet-stream' };
    const from = offset;
    const answer = await send('PATCH', at.url, headers, chunk, (sent) => onProgress(from + sent, file.size));
    if ((answer.status === 423 || answer.status === 409) && retries < 20) {
      // a cut-off request still holds the upload (423) or wrote more than we know (409):
      // wait, ask the server where it stands, go on from there
      retries += 1;
      await new Promise((r) => setTimeout(r, 500));
      const now = await send('HEAD', at.url, TUS, null);
      if (now.status !== 200) throw failure(now);
      offset = Number(now.header('upload-offset'));
      continue;
    }
    if (answer.status === 404 || answer.status === 410) localStorage.removeItem(key);
    if (answer.status !== 204) throw failure(answer);
    offset = Number(answer.header('upload-offset'));
  }
  localStorage.removeItem(key);
  onProgress(file.size, file.size);
}

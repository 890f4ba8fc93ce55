// The console API (console/SPEC.md): JSON over fetch with the session cookie. Every state
// change carries `content-type: application/json` and `x-bknd-console: 1`. A 401 means the
// session is over (checked with /session, since the REST API viewed as anon may answer 401
// too): the app goes back to the sign-in form.

let signedOut = () => {};

/** Called when the session has ended. */
export function onSignedOut(handler) {
  signedOut = handler;
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** The message of an error answer: the console's {code, message} or PostgREST's {code, message, details, hint}. */
async function errorOf(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // not JSON
  }
  let message = (body && (body.message || body.msg || body.error)) || `${response.status} ${response.statusText}`.trim();
  if (body && body.details) message += `: ${body.details}`;
  if (body && body.hint) message += ` (${body.hint})`;
  return new ApiError(response.status, (body && body.code) || String(response.status), message);
}

const UNSIGNED = ['/console/api/sign-in', '/console/api/set-password'];

/**
 * One call. `body` is sent as JSON; `headers` are added; `raw` answers the Response itself
 * (after the status check) for callers that need its headers.
 */
export async function request(method, path, { body, headers = {}, raw = false } = {}) {
  const init = { method, headers: { accept: 'application/json', ...headers }, credentials: 'same-origin' };
  if (method !== 'GET' && method !== 'HEAD') {
    init.headers['content-type'] = 'application/json';
    init.headers['x-bknd-console'] = '1';
    if (body !== undefined) init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, 'network', `the console could not reach the server (${e.message})`);
  }
  if (!response.ok) {
    const error = await errorOf(response);
    if (response.status === 401 && !UNSIGNED.includes(path)) await checkSession(path);
    throw error;
  }
  if (raw) return response;
  if (response.status === 204) return null;
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

async function checkSession(path) {
  if (path === '/console/api/session') {
    signedOut();
    return;
  }
  try {
    const r = await fetch('/console/api/session', { credentials: 'same-origin', headers: { accept: 'application/json' } });
    if (r.status === 401) signedOut();
  } catch {
    // the server is unreachable: keep the page
  }
}

export const get = (path, options) => request('GET', path, options);
export const post = (path, body, options) => request('POST', path, { ...options, body: body ?? {} });

/** One of the MCP tools as the member: its result. */
export async function tool(name, args = {}, options = {}) {
  const answer = await post(`/console/api/tools/${encodeURIComponent(name)}`, args, options);
  return answer ? answer.result : null;
}

/** A table name as "schema.name" (or "name" for public) split for the REST API. */
export function splitTable(qualified) {
  const dot = qualified.indexOf('.');
  return dot < 0 ? { schema: 'public', name: qualified } : { schema: qualified.slice(0, dot), name: qualified.slice(dot + 1) };
}

/**
 * The REST API as the member, or as whom `viewAs` names (anon, authenticated, user:EMAIL).
 * `query` is a URLSearchParams or a string. Answers {rows, total} where total comes from
 * Content-Range when `count` asked for it (Prefer: count=estimated).
 */
export async function rest(method, table, { query = '', body, prefer = [], viewAs, count = false } = {}) {
  const { schema, name } = splitTable(table);
  const headers = {};
  const preferences = [...prefer];
  if (count) preferences.push('count=estimated');
  if (preferences.length) headers.prefer = preferences.join(', ');
  if (viewAs) headers['x-bknd-view-as'] = viewAs;
  if (schema !== 'public') {
    headers['accept-profile'] = schema;
    headers['content-profile'] = schema;
  }
  // spaces as %20, not +: a filter value such as eq.ann 2 reaches the API as typed
  const q = String(query).replace(/\+/g, '%20');
  const path = `/console/api/rest/${encodeURIComponent(name)}${q ? `?${q}` : ''}`;
  const response = await request(method, path, { body, headers, raw: true });
  const range = response.headers.get('content-range');
  const total = range && /\/(\d+)$/.test(range) ? Number(range.split('/')[1]) : null;
  const text = response.status === 204 ? '' : await response.text();
  return { rows: text ? JSON.parse(text) : null, total };
}

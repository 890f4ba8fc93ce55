// Storage: the buckets (create, edit, empty, delete confirmed by name), a folder browser
// (navigate, upload files or a folder by the file inputs or drag and drop with progress, large
// files resumable, download, image preview, a signed URL with an expiry, move and rename,
// delete) and each bucket's policies (the presets bknd.allow_storage offers). Everything goes
// through the storage API as the member (../storage.js); the database decides.
import { useEffect, useRef, useState } from 'preact/hooks';
import { html } from '../html.js';
import { get, tool } from '../api.js';
import { Link, navigate } from '../router.js';
import { downloadUrl, encodePath, listBuckets, listFiles, listFolder, storage, upload } from '../storage.js';
import { Alert, CheckField, Copy, SelectField, Status, TextField, useAction, when } from '../ui.js';

/** Supabase's marker for an empty folder: made by "New folder", never listed. */
const PLACEHOLDER = '.emptyFolderPlaceholder';

export function bucketPath(bucket, folder = []) {
  return `/console/storage/${encodeURIComponent(bucket)}${folder.map((f) => `/${encodeURIComponent(f)}`).join('')}`;
}

export function size(bytes) {
  if (bytes == null) return '';
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let n = bytes / 1024;
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i += 1;
  }
  return `${n.toFixed(1)} ${units[i]}`;
}

export function StorageScreen({ bucket, folder }) {
  const [buckets, setBuckets] = useState(null);
  const [creating, setCreating] = useState(false);
  const { error, run } = useAction();

  const load = () => run(async () => setBuckets((await listBuckets()) || []));
  useEffect(() => {
    load();
  }, []);
  const current = buckets && buckets.find((b) => b.id === bucket);

  return html`<div class="split">
    <aside class="panel" aria-label="Buckets">
      <div class="panel-head">
        <h2>Buckets</h2>
        <button type="button" class="small primary" onClick=${() => setCreating(true)}>New bucket</button>
      </div>
      <ul class="table-list">
        ${(buckets || []).map((b) => html`<li key=${b.id}>
          <${Link} href=${bucketPath(b.id)} aria-current=${b.id === bucket ? 'page' : undefined}>${b.name}<//>
          ${b.public && html`<span class="badge">public</span>`}
        </li>`)}
      </ul>
      ${buckets && buckets.length === 0 && html`<p class="muted small">No buckets yet.</p>`}
    </aside>
    <main id="main" class="main storage">
      <${Alert} error=${error} />
      ${creating && html`<${BucketForm} onCancel=${() => setCreating(false)} onDone=${(b) => {
        setCreating(false);
        load();
        navigate(bucketPath(b));
      }} />`}
      ${!bucket && !creating && html`<h1>Storage</h1><p class="hint">Files live in buckets. Choose a bucket, or make one with New bucket.</p>`}
      ${bucket && buckets && !current && html`<h1>Not found</h1><p>There is no bucket ${bucket}.</p>`}
      ${current && html`<${BucketView} key=${current.id} bucket=${current} folder=${folder} onChanged=${load} />`}
    </main>
  </div>`;
}

/** New bucket, or an existing one's settings (`bucket` given). */
function BucketForm({ bucket, onDone, onCancel }) {
  const [name, setName] = useState('');
  const [pub, setPub] = useState(bucket ? bucket.public : false);
  const [limit, setLimit] = useState(bucket && bucket.file_size_limit ? String(bucket.file_size_limit / (1024 * 1024)) : '');
  const [types, setTypes] = useState(bucket && bucket.allowed_mime_types ? bucket.allowed_mime_types.join(', ') : '');
  const { error, setError, busy, run } = useAction();

  const submit = (e) => {
    e.preventDefault();
    const mb = limit.trim() ? Number(limit) : null;
    if (mb !== null && !(mb > 0)) return setError('the size limit is a number of megabytes (MB), or empty for none');
    const settings = {
      public: pub,
      file_size_limit: mb === null ? null : Math.round(mb * 1024 * 1024),
      allowed_mime_types: types.trim() ? types.split(',').map((t) => t.trim()).filter(Boolean) : null,
    };
    run(async () => {
      if (bucket) {
        await storage('PUT', `/bucket/${encodeURIComponent(bucket.id)}`, settings);
        onDone(bucket.id);
      } else {
        const created = await storage('POST', '/bucket', { name: name.trim(), id: name.trim(), ...settings });
        onDone(created.name || name.trim());
      }
    });
  };

  return html`<form class="card" onSubmit=${submit} aria-label=${bucket ? 'Bucket settings' : 'New bucket'}>
    ${!bucket && html`<${TextField} id="bucket-name" label="Bucket name" value=${name} onInput=${setName} autocomplete="off" required />`}
    <${CheckField} id="bucket-public" label="Public" checked=${pub} onChange=${setPub} />
    <p class="hint">Anyone with a public bucket's file URL can download it; uploads and changes still follow the bucket's policies.</p>
    <div class="row">
      <${TextField} id="bucket-limit" label="File size limit (MB)" value=${limit} onInput=${setLimit} inputmode="decimal" placeholder="no limit" />
      <${TextField} id="bucket-types" label="Allowed MIME types" value=${types} onInput=${setTypes} placeholder="any, or e.g. image/*, application/pdf" class="grow" />
    </div>
    <${Alert} error=${error} />
    <div class="actions">
      <button type="submit" class="primary" disabled=${busy}>${bucket ? 'Save bucket' : 'Create bucket'}</button>
      <button type="button" onClick=${onCancel}>Cancel</button>
    </div>
  </form>`;
}

/** Type the bucket's name to confirm what cannot be undone. */
function ConfirmByName({ name, what, button, busy, onConfirm, onCancel }) {
  const [typed, setTyped] = useState('');
  return html`<form class="card" aria-label=${button} onSubmit=${(e) => {
    e.preventDefault();
    if (typed === name) onConfirm();
  }}>
    <p>${what} This cannot be undone.</p>
    <${TextField} id="confirm-name" label=${`Type ${name} to confirm`} value=${typed} onInput=${setTyped} autocomplete="off" />
    <div class="actions">
      <button type="submit" class="danger" disabled=${busy || typed !== name}>${button}</button>
      <button type="button" onClick=${onCancel}>Cancel</button>
    </div>
  </form>`;
}

function BucketView({ bucket, folder, onChanged }) {
  const [mode, setMode] = useState(null); // edit | empty | delete | policies
  const [tick, setTick] = useState(0);
  const [status, setStatus] = useState(null);
  const { error, busy, run } = useAction();
  const id = bucket.id;

  const done = (text) => {
    setMode(null);
    setStatus(text);
    setTick((t) => t + 1);
  };

  return html`<section>
    <h1>${bucket.name} ${bucket.public ? html`<span class="badge">public</span>` : html`<span class="badge">private</span>`}</h1>
    <p class="hint">${bucket.file_size_limit ? `Files up to ${size(bucket.file_size_limit)}` : 'No size limit'}${bucket.allowed_mime_types ? `; types ${bucket.allowed_mime_types.join(', ')}` : ''}.</p>
    <div class="toolbar">
      <button type="button" class="small" onClick=${() => setMode(mode === 'edit' ? null : 'edit')}>Edit bucket</button>
      <button type="button" class="small" onClick=${() => setMode(mode === 'policies' ? null : 'policies')}>Policies</button>
      <button type="button" class="small" onClick=${() => setMode('empty')}>Empty bucket</button>
      <button type="button" class="small danger" onClick=${() => setMode('delete')}>Delete bucket</button>
    </div>
    <${Alert} error=${error} />
    <${Status} text=${status} />
    ${mode === 'edit' && html`<${BucketForm} bucket=${bucket} onCancel=${() => setMode(null)} onDone=${() => {
      done(`${id} saved.`);
      onChanged();
    }} />`}
    ${mode === 'empty' && html`<${ConfirmByName} name=${id} what=${`Every file in ${id} will be deleted.`} button="Empty" busy=${busy}
      onCancel=${() => setMode(null)} onConfirm=${() => run(async () => {
        await storage('POST', `/bucket/${encodeURIComponent(id)}/empty`, {});
        done(`${id} emptied.`);
      })} />`}
    ${mode === 'delete' && html`<${ConfirmByName} name=${id} what=${`The bucket ${id} and every file in it will be deleted.`} button="Delete" busy=${busy}
      onCancel=${() => setMode(null)} onConfirm=${() => run(async () => {
        await storage('POST', `/bucket/${encodeURIComponent(id)}/empty`, {});
        await storage('DELETE', `/bucket/${encodeURIComponent(id)}`, {});
        await onChanged();
        navigate('/console/storage');
      })} />`}
    ${mode === 'policies' && html`<${BucketPolicies} bucket=${id} />`}
    <${Browser} bucket=${bucket} folder=${folder} tick=${tick} />
  </section>`;
}

function Crumbs({ bucket, folder }) {
  return html`<nav aria-label="Folder" class="crumbs">
    <${Link} href=${bucketPath(bucket)}>${bucket}<//>
    ${folder.map((f, i) => html` / <${Link} href=${bucketPath(bucket, folder.slice(0, i + 1))}
      aria-current=${i === folder.length - 1 ? 'page' : undefined}>${f}<//>`)}
  </nav>`;
}

/** The files under `folder`: drop or choose files (or a folder) to upload here. */
function Browser({ bucket, folder, tick }) {
  const [entries, setEntries] = useState(null);
  const [uploads, setUploads] = useState([]);
  const [open, setOpen] = useState(null); // a file's path
  const [act, setAct] = useState(null); // {path, kind: rename|delete}
  const [refresh, setRefresh] = useState(0);
  const [dragging, setDragging] = useState(false);
  const [status, setStatus] = useState(null);
  const { error, setError, busy, run } = useAction();
  const prefix = folder.join('/');
  const id = bucket.id;
  const filesInput = useRef(null);
  const folderInput = useRef(null);

  useEffect(() => {
    run(async () => setEntries(((await listFolder(id, prefix)) || []).filter((e) => e.name !== PLACEHOLDER)));
  }, [id, prefix, tick, refresh]);
  useEffect(() => {
    if (folderInput.current) folderInput.current.setAttribute('webkitdirectory', '');
  }, []);

  const full = (name) => (prefix ? `${prefix}/${name}` : name);
  const reload = () => setRefresh((r) => r + 1);

  /** Upload [{file, path}] one after another, each with its own progress bar. */
  const send = async (items) => {
    if (!items.length) return;
    setStatus(null);
    setError(null);
    const rows = items.map(({ file, path }) => ({ path, size: file.size, sent: 0, state: 'waiting', note: null }));
    setUploads((u) => [...rows, ...u.filter((x) => x.state === 'uploading')]);
    const update = (path, change) => setUploads((u) => u.map((x) => (x.path === path ? { ...x, ...change } : x)));
    let failed = 0;
    for (const { file, path } of items) {
      update(path, { state: 'uploading' });
      try {
        await upload(id, path, file, {
          onProgress: (sent) => update(path, { sent }),
          onResume: (offset) => update(path, { note: `resumed from ${size(offset)}` }),
        });
        update(path, { state: 'done', sent: file.size });
      } catch (e) {
        failed += 1;
        update(path, { state: 'failed', note: e.message });
      }
    }
    setStatus(failed ? `${items.length - failed} of ${items.length} files uploaded; ${failed} failed.` : `${items.length} ${items.length === 1 ? 'file' : 'files'} uploaded.`);
    reload();
  };

  const chosen = (e) => {
    const files = [...e.currentTarget.files];
    e.currentTarget.value = '';
    send(files.map((file) => ({ file, path: full(file.webkitRelativePath || file.name) })));
  };

  const dropped = async (e) => {
    e.preventDefault();
    setDragging(false);
    const items = [...(e.dataTransfer.items || [])].map((i) => (i.webkitGetAsEntry ? i.webkitGetAsEntry() : null));
    if (items.some(Boolean)) {
      const found = [];
      for (const entry of items.filter(Boolean)) await walk(entry, '', found);
      send(found.map(({ file, path }) => ({ file, path: full(path) })));
    } else {
      send([...e.dataTransfer.files].map((file) => ({ file, path: full(file.name) })));
    }
  };

  const newFolder = (e) => {
    e.preventDefault();
    const name = new FormData(e.currentTarget).get('folder').trim();
    if (!name || name.includes('/')) return setError('a folder name without slashes');
    run(async () => {
      await upload(id, `${full(name)}/${PLACEHOLDER}`, new Blob([]), {});
      navigate(bucketPath(id, [...folder, name]));
    });
  };

  const remove = (entry) =>
    run(async () => {
      const path = full(entry.name);
      const paths = entry.id ? [path] : await listFiles(id, path);
      for (let i = 0; i < paths.length; i += 1000) await storage('DELETE', `/object/${encodeURIComponent(id)}`, { prefixes: paths.slice(i, i + 1000) });
      setAct(null);
      if (open === path) setOpen(null);
      setStatus(`${entry.name} deleted.`);
      reload();
    });

  const move = (from, to) =>
    run(async () => {
      await storage('POST', '/object/move', { bucketId: id, sourceKey: from, destinationKey: to });
      setAct(null);
      setOpen(null);
      setStatus(`${from} moved to ${to}.`);
      reload();
    });

  return html`<div class="browser">
    <${Crumbs} bucket=${id} folder=${folder} />
    <div class="toolbar">
      <span><input id="upload-files" ref=${filesInput} type="file" multiple class="file" onChange=${chosen} />
        <label class="button primary" for="upload-files">Upload files</label></span>
      <span><input id="upload-folder" ref=${folderInput} type="file" multiple class="file" onChange=${chosen} />
        <label class="button" for="upload-folder">Upload folder</label></span>
      <form class="group" onSubmit=${newFolder}>
        <label for="new-folder">New folder</label>
        <input id="new-folder" name="folder" autocomplete="off" />
        <button type="submit" class="small">Create folder</button>
      </form>
      <button type="button" class="small" onClick=${reload}>Refresh</button>
    </div>
    <${Alert} error=${error} />
    <${Status} text=${status} />
    ${uploads.length > 0 && html`<ul class="uploads" aria-label="Uploads">
      ${uploads.map((u) => html`<li key=${u.path}>
        <span class="mono small">${u.path}</span>
        <progress aria-label=${`Upload of ${u.path}`} max=${u.size || 1} value=${u.size ? u.sent : u.state === 'done' ? 1 : 0}></progress>
        <span class="small">${u.state === 'failed' ? `failed: ${u.note}` : `${size(u.sent)} of ${size(u.size)}${u.state === 'done' ? ', done' : ''}${u.note ? ` (${u.note})` : ''}`}</span>
      </li>`)}
    </ul>`}
    <div class=${`dropzone${dragging ? ' over' : ''}`} onDragOver=${(e) => {
      e.preventDefault();
      setDragging(true);
    }} onDragLeave=${() => setDragging(false)} onDrop=${dropped}>
      <p class="hint">Drop files or folders here to upload them to ${prefix || 'the bucket'}.</p>
      ${entries && entries.length === 0 && html`<p class="empty muted">This folder is empty.</p>`}
      ${entries && entries.length > 0 && html`<table class="list" aria-label="Files">
        <thead><tr><th scope="col">Name</th><th scope="col">Size</th><th scope="col">Type</th><th scope="col">Updated</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
        <tbody>${entries.map((e) => {
          const path = full(e.name);
          const file = Boolean(e.id);
          return html`<tr key=${e.name}>
            <td>${file
              ? html`<button type="button" class="link" aria-expanded=${open === path ? 'true' : 'false'} onClick=${() => setOpen(open === path ? null : path)}>${e.name}</button>`
              : html`<${Link} href=${bucketPath(id, [...folder, e.name])}>${e.name}/<//>`}</td>
            <td>${file ? size(e.metadata && e.metadata.size) : ''}</td>
            <td class="small">${file ? (e.metadata && e.metadata.mimetype) || '' : 'folder'}</td>
            <td class="small">${file ? when(e.updated_at) : ''}</td>
            <td class="row-actions">
              ${file && html`<a class="button small" href=${downloadUrl(id, path, true)} download=${e.name} aria-label=${`Download ${e.name}`}>Download</a>`}
              ${file && html`<button type="button" class="small" onClick=${() => setAct({ path, kind: 'rename' })} aria-label=${`Move ${e.name}`}>Move</button>`}
              ${act && act.path === path && act.kind === 'delete'
                ? html`<button type="button" class="small danger" disabled=${busy} onClick=${() => remove(e)}>Confirm delete</button>
                   <button type="button" class="small" onClick=${() => setAct(null)}>Cancel</button>`
                : html`<button type="button" class="small" onClick=${() => setAct({ path, kind: 'delete' })} aria-label=${`Delete ${e.name}`}>Delete</button>`}
            </td>
          </tr>`;
        })}</tbody>
      </table>`}
    </div>
    ${act && act.kind === 'rename' && html`<${MoveForm} key=${act.path} from=${act.path} busy=${busy} onMove=${move} onCancel=${() => setAct(null)} />`}
    ${open && html`<${FileDetail} key=${open} bucket=${bucket} path=${open} entry=${(entries || []).find((e) => full(e.name) === open)} />`}
  </div>`;
}

/** A dropped folder's files, with their paths inside it. */
async function walk(entry, at, found) {
  const path = at ? `${at}/${entry.name}` : entry.name;
  if (entry.isFile) {
    const file = await new Promise((resolve, reject) => entry.file(resolve, reject));
    found.push({ file, path });
    return;
  }
  const reader = entry.createReader();
  for (;;) {
    const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
    if (!batch.length) return;
    for (const child of batch) await walk(child, path, found);
  }
}

function MoveForm({ from, busy, onMove, onCancel }) {
  const [to, setTo] = useState(from);
  return html`<form class="card" aria-label="Move or rename" onSubmit=${(e) => {
    e.preventDefault();
    if (to.trim() && to.trim() !== from) onMove(from, to.trim());
  }}>
    <p>Move or rename <span class="mono">${from}</span> (a path with folders moves it).</p>
    <${TextField} id="move-to" label="New path" value=${to} onInput=${setTo} autocomplete="off" class="grow" />
    <div class="actions">
      <button type="submit" class="primary" disabled=${busy}>Move file</button>
      <button type="button" onClick=${onCancel}>Cancel</button>
    </div>
  </form>`;
}

const EXPIRIES = [['60', '1 minute'], ['3600', '1 hour'], ['86400', '1 day'], ['604800', '1 week']];

/** One file: a preview when it is an image, its details, and a signed URL to share it. */
function FileDetail({ bucket, path, entry }) {
  const [expires, setExpires] = useState('3600');
  const [signed, setSigned] = useState(null);
  const [project, setProject] = useState(null);
  const { error, busy, run } = useAction();
  const meta = (entry && entry.metadata) || {};
  const image = String(meta.mimetype || '').startsWith('image/');

  useEffect(() => {
    get('/console/api/project').then(setProject, () => {});
  }, []);

  const sign = () =>
    run(async () => {
      const answer = await storage('POST', `/object/sign/${encodeURIComponent(bucket.id)}/${encodePath(path)}`, { expiresIn: Number(expires) });
      const base = project ? project.urls.storage : `${location.origin}/storage/v1`;
      setSigned(`${base}${answer.signedURL}`);
    });
  const publicUrl = bucket.public && project ? `${project.urls.storage}/object/public/${encodeURIComponent(bucket.id)}/${encodePath(path)}` : null;

  return html`<section class="card file-detail" aria-label=${`File ${path}`}>
    <h2 class="mono">${path}</h2>
    ${image && html`<img class="preview" src=${downloadUrl(bucket.id, path)} alt=${`Preview of ${path}`} />`}
    <dl class="pairs">
      <dt>Size</dt><dd>${size(meta.size)}</dd>
      <dt>Type</dt><dd>${meta.mimetype || ''}</dd>
      <dt>Updated</dt><dd>${when(entry && entry.updated_at)}</dd>
      ${publicUrl && html`<dt>Public URL</dt><dd class="mono small">${publicUrl} <${Copy} text=${publicUrl} label="Copy public URL" /></dd>`}
    </dl>
    <div class="row">
      <${SelectField} id="sign-expiry" label="Expires in" value=${expires} onChange=${setExpires} options=${EXPIRIES} />
      <button type="button" onClick=${sign} disabled=${busy}>Create signed URL</button>
    </div>
    <${Alert} error=${error} />
    ${signed && html`<div class="row">
      <div class="field grow"><label for="signed-url">Signed URL</label><input id="signed-url" readonly value=${signed} /></div>
      <${Copy} text=${signed} label="Copy signed URL" />
    </div>`}
  </section>`;
}

const RULES = [
  ['true', 'everyone with the role'],
  ['owner', 'only files they uploaded'],
  ['folder', 'files under a folder named by their user id'],
  ['authenticated', 'any signed-in user'],
];

/** The bucket's policies on its files, and the presets to add more. */
function BucketPolicies({ bucket }) {
  const [policies, setPolicies] = useState(null);
  const [ops, setOps] = useState(['select']);
  const [role, setRole] = useState('authenticated');
  const [rule, setRule] = useState('owner');
  const [status, setStatus] = useState(null);
  const { error, busy, run } = useAction();

  const load = () => run(async () => setPolicies((await tool('list_storage_policies', { bucket })) || []));
  useEffect(() => {
    load();
  }, [bucket]);

  const add = (e) => {
    e.preventDefault();
    if (!ops.length) return;
    run(async () => {
      await tool('allow_storage', { bucket, operations: ops.join(','), role, rule });
      setStatus('Policy added.');
      setPolicies((await tool('list_storage_policies', { bucket })) || []);
    });
  };
  const drop = (name) =>
    run(async () => {
      await tool('drop_storage_policy', { bucket, name });
      setStatus(`${name} dropped.`);
      setPolicies((await tool('list_storage_policies', { bucket })) || []);
    });

  return html`<section class="card" aria-label="Bucket policies">
    <h2>Policies</h2>
    <p class="hint">Who may read, upload, change and delete this bucket's files through the API (service_role and the console are not limited by them).</p>
    <${Alert} error=${error} />
    <${Status} text=${status} />
    ${policies && policies.length === 0 && html`<p class="muted">No policies: only service_role reaches these files.</p>`}
    ${policies && policies.length > 0 && html`<table class="list">
      <thead><tr><th scope="col">Name</th><th scope="col">Operation</th><th scope="col">Roles</th><th scope="col">Rule</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
      <tbody>${policies.map((p) => html`<tr key=${p.name}>
        <td class="mono small">${p.name}</td><td>${p.command}</td><td>${(p.roles || []).join(', ')}</td>
        <td class="mono small">${p.using || p.with_check}</td>
        <td><button type="button" class="small" disabled=${busy} onClick=${() => drop(p.name)} aria-label=${`Drop ${p.name}`}>Drop</button></td>
      </tr>`)}</tbody>
    </table>`}
    <form onSubmit=${add} aria-label="Add a policy">
      <fieldset>
        <legend>Operations</legend>
        <div class="row">${['select', 'insert', 'update', 'delete'].map((o) => html`<${CheckField} key=${o} id=${`sp-${o}`} label=${o}
          checked=${ops.includes(o)} onChange=${(on) => setOps(on ? [...ops, o] : ops.filter((x) => x !== o))} />`)}</div>
      </fieldset>
      <div class="row">
        <${SelectField} id="sp-role" label="Role" value=${role} onChange=${setRole} options=${['authenticated', 'anon']} />
        <${SelectField} id="sp-rule" label="Rule" value=${rule} onChange=${setRule} options=${RULES} />
        <button type="submit" class="primary" disabled=${busy || !ops.length}>Add policy</button>
      </div>
    </form>
  </section>`;
}

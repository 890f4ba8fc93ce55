// Small shared pieces: alerts, labelled fields, a busy flag, formatting.
import { useCallback, useState } from 'preact/hooks';
import { html } from './html.js';

let counter = 0;
/** A unique id prefix for labels (several forms may show the same labels). */
export function uid(prefix = 'f') {
  counter += 1;
  return `${prefix}${counter}`;
}

/** An error message in role=alert; nothing when there is none. */
export function Alert({ error, onClose }) {
  if (!error) return null;
  const text = typeof error === 'string' ? error : error.message;
  return html`<div class="alert" role="alert">
    <span>${text}</span>
    ${onClose && html`<button type="button" class="link" onClick=${onClose}>Dismiss</button>`}
  </div>`;
}

/** A success or progress message (role=status). */
export function Status({ text }) {
  return text ? html`<p class="status" role="status">${text}</p>` : null;
}

/**
 * State for one screen's error and busy flag: run(fn) clears the error, sets busy, and
 * catches the failure into `error`. Answers fn's value, or undefined when it failed.
 */
export function useAction() {
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const run = useCallback(async (fn) => {
    setError(null);
    setBusy(true);
    try {
      return await fn();
    } catch (e) {
      setError(e);
      return undefined;
    } finally {
      setBusy(false);
    }
  }, []);
  return { error, setError, busy, run };
}

/** A text input with its label. */
export function TextField({ id, label, value, onInput, type = 'text', ...rest }) {
  return html`<div class="field">
    <label for=${id}>${label}</label>
    <input id=${id} type=${type} value=${value} onInput=${(e) => onInput(e.currentTarget.value)} ...${rest} />
  </div>`;
}

/** A select with its label; options are strings or [value, text]. */
export function SelectField({ id, label, value, onChange, options, ...rest }) {
  return html`<div class="field">
    <label for=${id}>${label}</label>
    <select id=${id} value=${value} onChange=${(e) => onChange(e.currentTarget.value)} ...${rest}>
      ${options.map((o) => {
        const [v, t] = Array.isArray(o) ? o : [o, o];
        return html`<option value=${v} selected=${v === value}>${t}</option>`;
      })}
    </select>
  </div>`;
}

/** A checkbox with its label after it. */
export function CheckField({ id, label, checked, onChange, ...rest }) {
  return html`<div class="field check">
    <input id=${id} type="checkbox" checked=${checked} onChange=${(e) => onChange(e.currentTarget.checked)} ...${rest} />
    <label for=${id}>${label}</label>
  </div>`;
}

/** A cell value as text: NULL, JSON for objects. */
export function cellText(value) {
  if (value === null || value === undefined) return null;
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

export function Cell({ value }) {
  const text = cellText(value);
  return text === null ? html`<span class="null">NULL</span>` : html`<span title=${text.length > 60 ? text : undefined}>${text}</span>`;
}

export function when(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString();
}

/** A copy-to-clipboard button for a block of text. */
export function Copy({ text, label = 'Copy' }) {
  const [done, setDone] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setDone(true);
      setTimeout(() => setDone(false), 1500);
    } catch {
      setDone(false);
    }
  };
  return html`<button type="button" class="small" onClick=${copy}>${done ? 'Copied' : label}</button>`;
}

export function Code({ text, label }) {
  return html`<div class="code">
    <pre tabindex="0" aria-label=${label}><code>${text}</code></pre>
    <${Copy} text=${text} label=${label ? `Copy ${label}` : 'Copy'} />
  </div>`;
}

// Routes with the History API: every console page is a path under /console/ (the sidecar
// answers index.html for all of them).
import { useEffect, useState } from 'preact/hooks';
import { html } from './html.js';

const listeners = new Set();

function notify() {
  for (const listener of listeners) listener(location.pathname);
}

window.addEventListener('popstate', notify);

export function navigate(path, { replace = false } = {}) {
  if (path === location.pathname && !replace) return;
  history[replace ? 'replaceState' : 'pushState'](null, '', path);
  notify();
  window.scrollTo(0, 0);
}

/** The current path, re-rendering on navigation. */
export function usePath() {
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    listeners.add(setPath);
    return () => listeners.delete(setPath);
  }, []);
  return path;
}

/** The path's parts after /console/, decoded: /console/tables/posts -> ['tables', 'posts']. */
export function parts(path) {
  return path
    .replace(/^\/console\/?/, '')
    .split('/')
    .filter(Boolean)
    .map((p) => {
      try {
        return decodeURIComponent(p);
      } catch {
        return p;
      }
    });
}

export function tablePath(table, tab) {
  return `/console/tables/${encodeURIComponent(table)}${tab && tab !== 'data' ? `/${tab}` : ''}`;
}

/** An <a> that navigates without reloading (a modified click still opens a new tab). */
export function Link({ href, children, ...rest }) {
  const click = (e) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(href);
  };
  return html`<a href=${href} onClick=${click} ...${rest}>${children}</a>`;
}

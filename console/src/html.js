// htm bound to preact: html`<p>...</p>` instead of JSX, so no compile step is needed.
import { h } from 'preact';
import htm from 'htm';

export const html = htm.bind(h);

// The part 2 screens (users, storage, logs, settings) for now.
import { html } from '../html.js';

export function ComingSoon({ title }) {
  return html`<main id="main" class="main">
    <h1>${title}</h1>
    <p>Coming in part 2.</p>
  </main>`;
}

// Builds the console into dist/: src/main.js bundled and minified into dist/assets/app.js,
// src/app.css and src/index.html copied, and a gzip (level 9) of each beside it, which the
// sidecar embeds and serves. Fails when the first load (html + js + css, gzipped) passes 400 KiB.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { constants, gzipSync } from 'node:zlib';

const root = dirname(fileURLToPath(import.meta.url));
const dist = join(root, 'dist');
const LIMIT = 400 * 1024;

rmSync(dist, { recursive: true, force: true });
mkdirSync(join(dist, 'assets'), { recursive: true });

await build({
  entryPoints: [join(root, 'src/main.js')],
  outfile: join(dist, 'assets/app.js'),
  bundle: true,
  minify: true,
  format: 'esm',
  target: 'es2020',
  legalComments: 'none',
  charset: 'utf8',
  logLevel: 'warning',
});
copyFileSync(join(root, 'src/index.html'), join(dist, 'index.html'));
copyFileSync(join(root, 'src/app.css'), join(dist, 'assets/app.css'));

let total = 0;
for (const file of ['index.html', 'assets/app.js', 'assets/app.css']) {
  const path = join(dist, file);
  const body = readFileSync(path);
  const gz = gzipSync(body, { level: constants.Z_BEST_COMPRESSION });
  writeFileSync(`${path}.gz`, gz);
  total += gz.length;
  console.log(`console: ${file.padEnd(15)} ${kib(body.length).padStart(9)} ${kib(gz.length).padStart(9)} gzipped`);
}
console.log(`console: first load ${kib(total)} gzipped (limit ${kib(LIMIT)})`);
if (total > LIMIT) {
  console.error(`console: the first load is over ${kib(LIMIT)} gzipped`);
  process.exit(1);
}

function kib(n) {
  return `${(n / 1024).toFixed(1)} KiB`;
}

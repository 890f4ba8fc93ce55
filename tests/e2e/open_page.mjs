// Serves a folder on 127.0.0.1 (another origin than the API) and opens its index.html in
// Debian's chromium, through playwright-core; prints what the page shows in #out once it no
// longer says "signing in...". Used by tests/tests/readme_walkthrough.rs for the README's page.

import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

const dir = path.resolve(process.argv[2]);
const types = { '.html': 'text/html', '.js': 'text/javascript' };
const server = http.createServer((req, res) => {
  const wanted = path.join(dir, decodeURIComponent(new URL(req.url, 'http://page').pathname));
  const file = wanted.endsWith(path.sep) ? path.join(wanted, 'index.html') : wanted;
  fs.readFile(file, (error, data) => {
    if (error || !file.startsWith(dir)) {
      res.writeHead(404);
      res.end();
    } else {
      res.writeHead(200, { 'content-type': types[path.extname(file)] ?? 'application/octet-stream' });
      res.end(data);
    }
  });
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
try {
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${server.address().port}/`);
  await page.waitForFunction(() => document.getElementById('out')?.textContent !== 'signing in...', null, { timeout: 20000 });
  console.log(await page.textContent('#out'));
} finally {
  await browser.close();
  server.close();
}

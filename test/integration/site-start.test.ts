// `npm start`'s entry point serves the built site; the build counts as stale when any source is newer than it.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, utimesSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { siteBuildIsStale } from '#server/site/build.ts';
import { killHard } from '../support/child.ts';
import { startServerMain, type ServerMain } from '../support/server-main.ts';

const temp = mkdtempSync(join(tmpdir(), 'tidings-site-start-'));
let server: ServerMain | undefined;
after(async () => {
  if (server) await killHard(server.child); // only after a failure: the test stops it itself
  rmSync(temp, { recursive: true, force: true });
});

test('a build is stale when missing, when its entry is gone, or when a page, the config or a contract is newer', () => {
  const root = join(temp, 'repo');
  const out = join(root, 'dist', 'site');
  for (const dir of ['site/pages', 'data/contracts', 'dist/site/server']) mkdirSync(join(root, dir), { recursive: true });
  const write = (rel: string, secondsAgo: number) => {
    writeFileSync(join(root, rel), 'x');
    const t = new Date(Date.now() - secondsAgo * 1000);
    utimesSync(join(root, rel), t, t);
  };
  write('site/pages/index.astro', 100);
  write('astro.config.mjs', 100);
  write('data/contracts/status.ts', 100);
  assert.equal(siteBuildIsStale(root, out), true, 'never built');
  write('dist/site/server/entry.mjs', 50);
  write('dist/site/.built-at', 50);
  // Folders' own mtimes count too; age them with the files.
  for (const dir of ['site', 'site/pages', 'data/contracts'])
    utimesSync(join(root, dir), new Date(Date.now() - 100_000), new Date(Date.now() - 100_000));
  assert.equal(siteBuildIsStale(root, out), false, 'built after every source');
  write('site/pages/index.astro', 10);
  assert.equal(siteBuildIsStale(root, out), true, 'a page changed');
  write('site/pages/index.astro', 100);
  write('data/contracts/status.ts', 10);
  assert.equal(siteBuildIsStale(root, out), true, 'a contract changed');
  write('data/contracts/status.ts', 100);
  write('astro.config.mjs', 10);
  assert.equal(siteBuildIsStale(root, out), true, 'the config changed');
  write('astro.config.mjs', 100);
  rmSync(join(out, 'server', 'entry.mjs'));
  assert.equal(siteBuildIsStale(root, out), true, 'the entry is gone');
});

test('server/main.ts (npm start) serves the overview, FS#2733 and status.json from one process', async () => {
  // All-in-one, as `npm start` runs it (the MX node on a port of its own choosing).
  server = await startServerMain({ TIDINGS_STATE_DIR: join(temp, 'state') });
  const { url } = server;
  const home = await fetch(`${url}/`);
  assert.equal(home.status, 200);
  const html = await home.text();
  assert.match(html, /<h1>Service status<\/h1>/);
  assert.match(html, /FS#2733 - Reworking \/ Scaling mailsystem inbound/);
  const css = /<link rel="stylesheet" href="([^"]+)"/.exec(html)?.[1];
  assert.equal((await fetch(url + css)).status, 200);
  assert.equal((await fetch(`${url}/task/2733`)).status, 200);
  const status = (await (await fetch(`${url}/status.json`)).json()) as { sections: unknown[] };
  assert.equal(status.sections.length, 5);
  await server.stop();
});

// `npm start`'s entry point serves the built site; the build counts as stale when any source is newer than it.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, utimesSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { siteBuildIsStale, REPO_ROOT } from '#server/site/build.ts';

const temp = mkdtempSync(join(tmpdir(), 'tidings-site-start-'));
let server: ChildProcess | undefined;
after(() => {
  if (server?.pid && server.exitCode === null) process.kill(server.pid, 'SIGKILL');
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
  for (const dir of ['site', 'site/pages', 'data/contracts']) utimesSync(join(root, dir), new Date(Date.now() - 100_000), new Date(Date.now() - 100_000));
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
  server = spawn(process.execPath, ['server/main.ts'], {
    cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, TIDINGS_STATE_DIR: join(temp, 'state'), TIDINGS_HTTP_PORT: '0', TIDINGS_HTTP_HOST: '127.0.0.1', TIDINGS_LOG_LEVEL: 'info' },
  });
  let log = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line in 60 s:\n${log}`)), 60_000);
    const onData = (b: Buffer) => {
      log += b.toString();
      const m = /tidings: (http:\/\/127\.0\.0\.1:\d+)\//.exec(log);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    };
    server!.stdout!.on('data', onData);
    server!.stderr!.on('data', onData);
    server!.on('exit', (code) => { clearTimeout(timer); reject(new Error(`server exited ${code}:\n${log}`)); });
  });
  const home = await fetch(`${url}/`);
  assert.equal(home.status, 200);
  const html = await home.text();
  assert.match(html, /<h1>Service status<\/h1>/);
  assert.match(html, /FS#2733 - Reworking \/ Scaling mailsystem inbound/);
  const css = /<link rel="stylesheet" href="([^"]+)"/.exec(html)?.[1];
  assert.equal((await fetch(url + css)).status, 200);
  assert.equal((await fetch(`${url}/task/2733`)).status, 200);
  const status = await (await fetch(`${url}/status.json`)).json() as { sections: unknown[] };
  assert.equal(status.sections.length, 5);
  process.kill(server.pid!, 'SIGTERM');
  await new Promise((r) => server!.once('exit', r));
});

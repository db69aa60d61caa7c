// server/main.ts answers cached public pages before Hono: the short cut must send what the Hono route sends (status,
// headers, bytes, for GET, HEAD and conditional GETs) and must never serve a page older than the last write.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '#server/site/build.ts';
import { startServerMain, type ServerMain } from '../support/server-main.ts';

const temp = mkdtempSync(join(tmpdir(), 'tidings-fast-path-'));
const env = {
  ...process.env,
  TIDINGS_ROLE: 'backend',
  TIDINGS_STATE_DIR: join(temp, 'state'),
  TIDINGS_HTTP_HOST: '127.0.0.1',
  TIDINGS_LOG_LEVEL: 'warn',
};
let server: ServerMain | undefined;
let port = 0;

before(async () => {
  // The admin exists before the server starts (the CLI writes the state folder directly).
  await new Promise<void>((resolve, reject) => {
    const child = execFile(
      process.execPath,
      ['server/cli.ts', 'staff', 'add', 'fastadmin', '--admin', '--password-stdin'],
      { cwd: REPO_ROOT, env, timeout: 30_000 },
      (err, _out, stderr) => (err ? reject(new Error(`staff add: ${stderr}`)) : resolve()),
    );
    child.stdin!.end('fast path passphrase\n');
  });
  server = await startServerMain(env);
  port = server.port;
});

after(async () => {
  try {
    await server?.stop();
  } finally {
    rmSync(temp, { recursive: true, force: true });
  }
});

interface Raw {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** One request on its own connection, with the headers as sent (lower-cased names; Date left out). */
function raw(method: string, path: string, headers: Record<string, string> = {}): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const h: Record<string, string> = {};
        for (let i = 0; i < res.rawHeaders.length; i += 2) {
          const name = res.rawHeaders[i].toLowerCase();
          if (name !== 'date') h[name] = h[name] === undefined ? res.rawHeaders[i + 1] : `${h[name]}, ${res.rawHeaders[i + 1]}`;
        }
        resolve({ status: res.statusCode!, headers: h, body: Buffer.concat(chunks) });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

function assertSame(first: Raw, later: Raw, what: string) {
  assert.equal(later.status, first.status, `${what}: status`);
  assert.deepEqual(later.headers, first.headers, `${what}: headers`);
  assert.ok(later.body.equals(first.body), `${what}: body bytes`);
}

/** The same page by a target the fast path leaves to Hono ("%" is not plain), which the cache maps to the same entry. */
const viaHono = (path: string) => `${path}${path.includes('?') ? '&' : '?'}_=%20`;

test('first (Hono) and later (cached, fast path) answers are identical: GET, HEAD and a conditional GET', async () => {
  // HEAD first: / is rendered by Hono for a HEAD, then a GET renders nothing new.
  const firstHead = await raw('HEAD', '/');
  assert.equal(firstHead.status, 200);
  assert.equal(firstHead.body.length, 0);
  for (let i = 0; i < 2; i++) assertSame(firstHead, await raw('HEAD', '/'), `HEAD / #${i + 2}`);
  assertSame(firstHead, await raw('HEAD', viaHono('/')), 'HEAD / through Hono');
  for (const path of ['/', '/tasks?sort=summary&dir=asc', '/task/2733']) {
    const first = await raw('GET', path);
    assert.equal(first.status, 200, path);
    assert.equal(first.headers['content-type'], 'text/html; charset=utf-8', path);
    assert.equal(first.headers['cache-control'], 'public, max-age=15, stale-while-revalidate=60', path);
    assert.equal(first.headers['content-length'], String(first.body.length), path);
    for (let i = 0; i < 3; i++) assertSame(first, await raw('GET', path), `GET ${path} #${i + 2}`);
    assertSame(first, await raw('GET', viaHono(path)), `GET ${path} through Hono`);
  }
  const get = await raw('GET', '/');
  assert.equal(firstHead.headers['content-type'], get.headers['content-type']);
  assert.equal(firstHead.headers['cache-control'], get.headers['cache-control']);
  // Pages carry no ETag (the "now" marker moves), so If-None-Match cannot turn a page into a 304 on either path.
  assert.equal(get.headers.etag, undefined);
  assert.equal(firstHead.headers.etag, undefined);
  const conditional = { 'if-none-match': get.headers.etag ?? '"anything"', 'if-modified-since': new Date().toUTCString() };
  assertSame(get, await raw('GET', '/', conditional), 'conditional GET /');
  assertSame(get, await raw('GET', viaHono('/'), conditional), 'conditional GET / through Hono');
  assertSame(get, await raw('GET', '/?utm_source=x'), 'GET /?utm_source=x (same cache entry)');
  // Not pages: still Hono's answers.
  assert.equal((await raw('GET', '/FS2733')).status, 301);
  assert.equal((await raw('GET', '/status.json')).headers['content-type'], 'application/json; charset=utf-8');
  assert.equal((await raw('POST', '/')).status, 404);
});

test('a write through the API changes what / shows at once: the fast path serves no stale page', async () => {
  const before = (await raw('GET', '/')).body.toString();
  const note = `Fast path check ${Date.now()}`;
  assert.ok(!before.includes(note));
  const login = await fetch(`http://127.0.0.1:${port}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'fastadmin', password: 'fast path passphrase' }),
  });
  assert.equal(login.status, 200, await login.clone().text());
  const cookie = login.headers.get('set-cookie')!.split(';')[0];
  const { csrfToken } = (await login.json()) as { csrfToken: string };
  const put = await fetch(`http://127.0.0.1:${port}/api/v1/sections/email/override`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', cookie, 'x-csrf-token': csrfToken },
    body: JSON.stringify({ state: 'issues', note, expiresAt: new Date(Date.now() + 2 * 3600_000).toISOString() }),
  });
  assert.equal(put.status, 200, await put.clone().text());
  const after1 = await raw('GET', '/');
  assert.ok(after1.body.toString().includes(note), 'the first view after the write shows the override');
  const after2 = await raw('GET', '/');
  assertSame(after1, after2, 'the re-rendered page, then from the cache');
  assertSame(after1, await raw('GET', viaHono('/')), 'the re-rendered page through Hono');
});

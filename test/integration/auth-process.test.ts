// The real server process (server/main.ts) under guesses sent all at once over separate connections, as an attacker
// would send them (`xargs -P40 curl`): the login and password-change limits hold; a CLI one-time password is one-time.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '#server/site/build.ts';
import { LOGIN_LIMITS } from '#server/http/ratelimit.ts';
import { startServerMain, type ServerMain } from '../support/server-main.ts';

const temp = mkdtempSync(join(tmpdir(), 'tidings-auth-process-'));
// Loopback is the trusted proxy, so each request can name its client address in X-Forwarded-For.
const env = {
  ...process.env,
  TIDINGS_ROLE: 'backend',
  TIDINGS_STATE_DIR: join(temp, 'state'),
  TIDINGS_HTTP_HOST: '127.0.0.1',
  TIDINGS_HTTP_PORT: '0',
  TIDINGS_LOG_LEVEL: 'info',
  TIDINGS_TRUSTED_PROXIES: '127.0.0.1',
};
let server: ServerMain | undefined;
let port = 0;
let rootPassword = '';

function cli(args: string[], stdin = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(process.execPath, ['server/cli.ts', ...args], { cwd: REPO_ROOT, env, timeout: 30_000 }, (err, out, stderr) =>
      err ? reject(new Error(`cli ${args.join(' ')}: ${stderr}`)) : resolve(out),
    );
    child.stdin!.end(stdin);
  });
}

before(async () => {
  await cli(['staff', 'add', 'alice', '--admin', '--password-stdin'], 'correct horse battery\n');
  await cli(['staff', 'add', 'sam', '--password-stdin'], 'correct horse battery\n');
  rootPassword = (await cli(['staff', 'add', 'root', '--admin'])).trim().split('\n').at(-1)!;
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

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request on its own connection (no keep-alive pool), so a batch of them reaches the server side by side. */
function send(method: string, path: string, o: { json?: unknown; headers?: Record<string, string> } = {}): Promise<Answer> {
  const body = o.json === undefined ? undefined : JSON.stringify(o.json);
  const headers = {
    ...o.headers,
    ...(body === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) }),
  };
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        text += c;
      });
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

const login = (username: string, password: string, ip: string) =>
  send('POST', '/api/v1/auth/login', { json: { username, password }, headers: { 'x-forwarded-for': ip } });

async function session(username: string, password: string, ip: string) {
  const r = await login(username, password, ip);
  assert.equal(r.status, 200, r.body);
  const cookie = String(r.headers['set-cookie']).split(';')[0];
  const body = JSON.parse(r.body) as { csrfToken: string; mustChangePassword: boolean };
  return { cookie, csrf: body.csrfToken, mustChangePassword: body.mustChangePassword };
}

function tally(answers: Answer[]): Record<number, number> {
  const out: Record<number, number> = {};
  for (const a of answers) out[a.status] = (out[a.status] ?? 0) + 1;
  return out;
}

test('40 concurrent wrong passwords for one account: 5 × 401, 35 × 429 with Retry-After; the right password is then 429', {
  timeout: 60_000,
}, async () => {
  const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => login('alice', `guess ${i}`, `198.51.100.${i + 1}`)));
  assert.deepEqual(tally(answers), { 401: LOGIN_LIMITS.perAccount, 429: 40 - LOGIN_LIMITS.perAccount });
  for (const a of answers.filter((x) => x.status === 429)) assert.ok(Number(a.headers['retry-after']) > 0);
  const right = await login('alice', 'correct horse battery', '203.0.113.1');
  assert.equal(right.status, 429);
  assert.equal(right.headers['set-cookie'], undefined);
});

test('40 concurrent guesses from one address at 40 accounts: 20 × 401, 20 × 429', { timeout: 60_000 }, async () => {
  const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => login(`spray${i}`, 'spray password', '203.0.113.66')));
  assert.deepEqual(tally(answers), { 401: LOGIN_LIMITS.perIp, 429: 40 - LOGIN_LIMITS.perIp });
});

test('30 concurrent wrong current passwords on a stolen session: 5 × 403, 25 × 429; then the right one and login are 429 too', {
  timeout: 60_000,
}, async () => {
  const stolen = await session('sam', 'correct horse battery', '192.0.2.10');
  const change = (currentPassword: string) =>
    send('POST', '/api/v1/auth/password', {
      json: { currentPassword, newPassword: 'the attackers passphrase' },
      headers: { cookie: stolen.cookie, 'x-csrf-token': stolen.csrf, 'x-forwarded-for': '203.0.113.40' },
    });
  const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => change(`guess ${i}`)));
  assert.deepEqual(tally(answers), { 403: LOGIN_LIMITS.perAccount, 429: 30 - LOGIN_LIMITS.perAccount });
  assert.equal((await change('correct horse battery')).status, 429);
  assert.equal((await login('sam', 'correct horse battery', '203.0.113.41')).status, 429);
});

test('the CLI one-time password: login, every staff page and API refuses until a new password is set, then all works', {
  timeout: 60_000,
}, async () => {
  const s = await session('root', rootPassword, '192.0.2.20');
  assert.equal(s.mustChangePassword, true);
  const headers = { cookie: s.cookie, 'x-csrf-token': s.csrf, 'x-forwarded-for': '192.0.2.20' };
  const page = await send('GET', '/staff/users', { headers });
  assert.equal(page.status, 303);
  assert.match(String(page.headers.location), /^\/staff\/password\?next=%2Fstaff%2Fusers$/);
  const users = await send('GET', '/api/v1/users', { headers });
  assert.equal(users.status, 403);
  assert.match(JSON.parse(users.body).detail, /POST \/api\/v1\/auth\/password/);
  assert.equal((await login('root', rootPassword, '192.0.2.21')).status, 401, 'a second login with it fails');

  const changed = await send('POST', '/api/v1/auth/password', {
    headers,
    json: { currentPassword: rootPassword, newPassword: 'roots own passphrase' },
  });
  assert.equal(changed.status, 204, changed.body);
  assert.equal((await send('GET', '/api/v1/users', { headers })).status, 200);
  assert.equal((await send('GET', '/staff/users', { headers })).status, 200);
  assert.equal((await login('root', 'roots own passphrase', '192.0.2.22')).status, 200);
});

// A start-up that cannot work ends at once with exit code 2 and one line naming the variable to fix.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');

function start(env: Record<string, string>) {
  return spawnSync(process.execPath, ['server/main.ts'], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, TIDINGS_ROLE: 'backend', TIDINGS_LOG_LEVEL: 'warn', ...env },
  });
}

test('a bad port, host, telemetry retention or state folder names its variable, exits 2 and prints no stack trace', async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'tidings-startup-')), 'a-file');
  writeFileSync(file, 'not a folder');
  for (const [env, variable] of [
    [{ TIDINGS_HTTP_PORT: 'eighty' }, 'TIDINGS_HTTP_PORT'],
    [{ TIDINGS_HTTP_HOST: 'not a host' }, 'TIDINGS_HTTP_HOST'],
    [{ TIDINGS_TELEMETRY_MINUTES_RETENTION: 'two weeks' }, 'TIDINGS_TELEMETRY_MINUTES_RETENTION'],
    [{ TIDINGS_TELEMETRY_HOURS_RETENTION: '1d' }, 'TIDINGS_TELEMETRY_HOURS_RETENTION'],
    [{ TIDINGS_STATE_DIR: join(file, 'state') }, 'TIDINGS_STATE_DIR'],
  ] as const) {
    const r = start(env);
    assert.equal(r.status, 2, `${variable}: exit code (stderr: ${r.stderr})`);
    assert.match(r.stderr, new RegExp(variable));
    assert.doesNotMatch(r.stderr, /\n\s+at /, `${variable}: no stack trace`);
  }
});

test('an HTTP port already in use is reported with the variables to change', async () => {
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  const port = (blocker.address() as { port: number }).port;
  try {
    const r = start({ TIDINGS_STATE_DIR: mkdtempSync(join(tmpdir(), 'tidings-startup-')), TIDINGS_HTTP_PORT: String(port) });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /TIDINGS_HTTP_PORT.*already in use/);
  } finally {
    blocker.close();
  }
});

test('the MX node refuses a bad setting the same way', () => {
  const r = spawnSync(process.execPath, ['mailsystem/main.ts'], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
    env: {
      ...process.env,
      TIDINGS_STATE_DIR: mkdtempSync(join(tmpdir(), 'tidings-startup-')),
      TIDINGS_SMTP_PORT: '0',
      TIDINGS_MX_BACKEND_URL: 'http://127.0.0.1:9',
      TIDINGS_LOG_LEVEL: 'warn',
    },
  });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /TIDINGS_MX_TOKEN/);
});

test('npm start with its SMTP port in use says so, naming the variables, instead of restarting its MX node forever', async () => {
  // The backend binds the SMTP socket itself and hands it to each MX process (server/embedded-mx.ts).
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  const port = (blocker.address() as { port: number }).port;
  try {
    const r = start({
      TIDINGS_ROLE: 'all-in-one',
      TIDINGS_STATE_DIR: mkdtempSync(join(tmpdir(), 'tidings-startup-')),
      TIDINGS_HTTP_PORT: '0',
      TIDINGS_SMTP_PORT: String(port),
    });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /TIDINGS_SMTP_PORT.*already in use/);
  } finally {
    blocker.close();
  }
});

// The operator CLI: staff accounts through the real entry point (state folder from TIDINGS_STATE_DIR) and in-process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { loadConfig } from '#data/config.ts';
import { openBackendStore } from '#server/store/open.ts';
import { createApp } from '#server/app.ts';
import { createChangeCounter } from '#server/deps.ts';
import { runCliInProcess } from '../support/cli-in-process.ts';

const ROOT = join(import.meta.dirname, '..', '..');

function runReal(args: string[], env: Record<string, string>, stdin?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      ['server/cli.ts', ...args],
      { cwd: ROOT, env: { ...process.env, ...env }, timeout: 20_000 },
      (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 99) : 0, stdout, stderr });
      },
    );
    child.stdin!.end(stdin ?? '');
  });
}

function inProcess() {
  const clock = () => new Date('2026-01-15T12:00:00.000Z');
  const db = openBackendStore(':memory:', clock);
  const config = loadConfig({ TIDINGS_STATE_DIR: '/nonexistent' }, '/');
  const app = createApp({ db, config, clock, log: pino({ level: 'silent' }), changes: createChangeCounter() });
  const run = (argv: string[], stdin = '') => runCliInProcess({ db, config, clock }, argv, stdin);
  const canLogIn = async (username: string, password: string) =>
    (
      await app.request('/api/v1/auth/login', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username, password }),
      })
    ).status === 200;
  return { db, run, canLogIn };
}

test('real entry point: --help, staff add --admin prints a password that is stored hashed, list shows it, bad config names the variable', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tidings-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const env = { TIDINGS_STATE_DIR: dir };

  const help = await runReal(['--help'], env);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /staff add <name> \[--admin\]/);
  assert.match(help.stdout, /reset-password/);

  const added = await runReal(['staff', 'add', 'root', '--admin', '--display-name', 'Root Admin'], env);
  assert.equal(added.code, 0, added.stderr);
  const password = /One-time password \(shown once\):\n(\S+)\n/.exec(added.stdout)?.[1];
  assert.ok(password && password.length >= 20, added.stdout);

  const db = openBackendStore(dir);
  const row = db.prepare("SELECT role, display_name, password_hash FROM users WHERE username = 'root'").get() as {
    role: string;
    display_name: string;
    password_hash: string;
  };
  assert.equal(row.role, 'admin');
  assert.equal(row.display_name, 'Root Admin');
  assert.match(row.password_hash, /^\$argon2id\$/);
  assert.ok(!row.password_hash.includes(password));
  db.close();

  const list = await runReal(['staff', 'list'], env);
  assert.equal(list.code, 0);
  assert.match(list.stdout, /^root\s+admin\s+active\s+Root Admin$/m);

  // A refusal reads as the service's own sentence, with no HTTP status line ("409 Conflict") and no stack trace.
  const again = await runReal(['staff', 'add', 'root'], env);
  assert.equal(again.code, 1);
  assert.equal(again.stderr, 'error: The username "root" is taken.\n');

  const piped = await runReal(['staff', 'add', 'bob', '--password-stdin'], env, 'piped passphrase\n');
  assert.equal(piped.code, 0, piped.stderr);
  assert.doesNotMatch(piped.stdout, /password/i, 'nothing to print when the password came from stdin');

  const badEnv = await runReal(['staff', 'list'], { ...env, TIDINGS_HTTP_PORT: 'eighty' });
  assert.equal(badEnv.code, 2);
  assert.match(badEnv.stderr, /TIDINGS_HTTP_PORT/);
  const unknown = await runReal(['frobnicate'], env);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command "frobnicate"/);
});

test('staff commands work against the API: the printed and piped passwords log in; disable and reset end logins', async () => {
  const c = inProcess();
  const added = await c.run(['staff', 'add', 'alice', '--admin']);
  assert.equal(added.code, 0);
  const generated = added.stdout.trim().split('\n').at(-1)!;
  assert.equal(await c.canLogIn('alice', generated), true);

  assert.equal((await c.run(['staff', 'add', 'bob', '--password-stdin'], 'bobs passphrase\r\n')).code, 0);
  assert.equal(await c.canLogIn('bob', 'bobs passphrase'), true, 'one trailing newline is not part of the password');
  assert.equal((await c.run(['staff', 'add', 'carol', '--password-stdin'], 'short\n')).code, 2);
  const taken = await c.run(['staff', 'add', 'alice']);
  assert.equal(taken.code, 1, 'taken name');
  assert.equal(taken.stderr, 'error: The username "alice" is taken.\n');
  const badName = await c.run(['staff', 'add', 'Bad Name']);
  assert.equal(badName.code, 2);
  assert.match(badName.stderr, /^error: username: [^\n]+\n$/);
  assert.equal((await c.run(['staff', 'add', 'x', '--bogus'])).code, 2);

  const reset = await c.run(['staff', 'reset-password', 'bob']);
  assert.equal(reset.code, 0);
  const newPassword = reset.stdout.trim().split('\n').at(-1)!;
  assert.equal(await c.canLogIn('bob', 'bobs passphrase'), false);
  assert.equal(await c.canLogIn('bob', newPassword), true);
  assert.equal((await c.run(['staff', 'reset-password', 'bob', '--password-stdin'], 'another passphrase')).code, 0);
  assert.equal(await c.canLogIn('bob', 'another passphrase'), true);

  assert.equal((await c.run(['staff', 'disable', 'bob'])).code, 0);
  assert.equal(await c.canLogIn('bob', 'another passphrase'), false);
  assert.equal(
    (c.db.prepare("SELECT count(*) AS n FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.username = 'bob'").get() as { n: number })
      .n,
    0,
  );
  assert.match((await c.run(['staff', 'list'])).stdout, /^bob\s+staff\s+disabled/m);
  assert.equal((await c.run(['staff', 'enable', 'bob'])).code, 0);
  assert.equal(await c.canLogIn('bob', 'another passphrase'), true);

  const last = await c.run(['staff', 'disable', 'alice']);
  assert.equal(last.code, 1);
  assert.match(last.stderr, /last admin/);
  const nobody = await c.run(['staff', 'disable', 'nobody']);
  assert.equal(nobody.code, 1);
  assert.equal(nobody.stderr, 'error: no account named "nobody"\n');
  assert.equal((await c.run(['staff', 'disable'])).code, 2);
  const audit = (c.db.prepare("SELECT action FROM audit_log WHERE actor = 'cli'").all() as { action: string }[]).map((r) => r.action);
  for (const a of ['user.add', 'user.reset-password', 'user.disable', 'user.enable']) assert.ok(audit.includes(a), a);
});

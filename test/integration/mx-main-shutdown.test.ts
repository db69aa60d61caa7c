// The product entry (mailsystem/main.ts) as a real process, no backend, replica prepared in its state
// folder: SIGTERM answers an idle session 421 4.3.2 and exits 0; a DATA transfer in progress at
// SIGTERM still gets its 250 (and the message is delivered), then 421 4.3.2.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, MIGRATIONS } from '#data/db.ts';
import type { ConfigChange } from '#data/contracts/mx-config.ts';
import { applyConfigChanges } from '#mailsystem/config/apply.ts';
import { RawSmtp } from '../support/smtp-client.ts';
import { freePort } from '../support/dovecot.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const children: ChildProcess[] = [];
const dirs: string[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Node { child: ChildProcess; port: number; dir: string; exit: Promise<number | null>; stderr: () => string }

/** A state folder whose node replica already hosts example.com with a Maildir mailbox anna@. */
async function startNode(): Promise<Node> {
  const dir = mkdtempSync(join(tmpdir(), 'tidings-main-'));
  dirs.push(dir);
  const db = openDatabase(join(dir, 'mx', 'node.sqlite'), { migrationsDir: MIGRATIONS.node, synchronous: 'FULL' });
  const changes: ConfigChange[] = [
    { version: 1, op: 'upsert', entity: 'domain', key: 'example.com', record: { name: 'example.com', mode: 'active', legacyHost: null, legacyPort: null, catchAll: null } },
    { version: 2, op: 'upsert', entity: 'mailbox', key: 'anna@example.com', record: { address: 'anna@example.com', domain: 'example.com', delivery: 'maildir', lmtpHost: null, lmtpPort: null } },
  ];
  applyConfigChanges(db, { since: 0, version: 2, more: false, reset: false, changes }, new Date());
  db.close();
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, TIDINGS_STATE_DIR: dir, TIDINGS_SMTP_PORT: String(port), TIDINGS_SMTP_HOST: '127.0.0.1', TIDINGS_MX_HOSTNAME: 'mx.tidings.test', TIDINGS_LOG_LEVEL: 'warn' };
  delete env.TIDINGS_MX_BACKEND_URL;
  delete env.TIDINGS_MX_TOKEN;
  const child = spawn(process.execPath, ['mailsystem/main.ts'], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  let stderr = '';
  child.stderr!.on('data', (c) => { stderr += c; });
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`mailsystem/main.ts exited ${child.exitCode}: ${stderr}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`mailsystem/main.ts did not listen on ${port}: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, port, dir, exit, stderr: () => stderr };
}

const withTimeout = <T>(p: Promise<T>, ms: number, what: string): Promise<T> =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms))]);

test('SIGTERM: an idle session is answered 421 4.3.2 and the process exits 0', async () => {
  const node = await startNode();
  const idle = await RawSmtp.connect(node.port);
  assert.match((await idle.read())!, /^220 /);
  assert.match((await idle.cmd('EHLO client.test'))!, /^250/);
  node.child.kill('SIGTERM');
  assert.match((await idle.read(5000))!, /^421 4\.3\.2 /);
  assert.equal(await idle.read(), null, 'the connection is closed after 421');
  assert.equal(await withTimeout(node.exit, 15_000, 'exit after SIGTERM'), 0, node.stderr());
  await assert.rejects(RawSmtp.connect(node.port), 'nothing listens after the exit');
});

test('SIGTERM during DATA: the transfer still gets its 250, then 421 4.3.2; the message is delivered before exit 0', async () => {
  const node = await startNode();
  const busy = await RawSmtp.connect(node.port);
  const [rcpt] = await busy.open('sender@origin.test', ['anna@example.com']);
  assert.match(rcpt, /^250 /);
  assert.match((await busy.cmd('DATA'))!, /^354 /);
  busy.write('From: sender@origin.test\r\nTo: anna@example.com\r\nSubject: in flight at SIGTERM\r\n\r\nfirst half, ');
  node.child.kill('SIGTERM');
  // The node is draining now: no new sessions, while this transfer may finish.
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(node.child.exitCode, null, 'still draining while a transfer is in progress');
  busy.write('second half\r\n.\r\n');
  assert.match((await busy.read(5000))!, /^250 2\.6\.0 Ok: queued as /);
  assert.match((await busy.cmd('MAIL FROM:<sender@origin.test>'))!, /^421 4\.3\.2 /);
  assert.equal(await withTimeout(node.exit, 15_000, 'exit after the drain'), 0, node.stderr());
  const box = join(node.dir, 'mx', 'mail', 'example.com', 'anna', 'Maildir', 'new');
  const files = existsSync(box) ? readdirSync(box) : [];
  assert.equal(files.length, 1, 'the accepted message was delivered before the process exited');
  assert.match(readFileSync(join(box, files[0]), 'latin1'), /Subject: in flight at SIGTERM\r\n\r\nfirst half, second half\r\n$/);
});

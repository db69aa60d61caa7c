// Real processes: backend and MX node started as the product starts them; config flows down, and the node outlives the backend.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, readdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sendMessage } from '#mailsystem/delivery/smtp-client.ts';
import { freePort, waitForPort } from '../support/ports.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const children: ChildProcess[] = [];
const dirs: string[] = [];
after(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function start(script: string, env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, [script], { cwd: ROOT, env: { ...process.env, TIDINGS_LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  return child;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
  if (child.exitCode === null) child.kill('SIGKILL');
}

function cli(stateDir: string, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['server/cli.ts', 'mail', ...args], { cwd: ROOT, env: { ...process.env, TIDINGS_STATE_DIR: stateDir }, timeout: 20_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`cli mail ${args.join(' ')}: ${stderr}`));
      else resolve(stdout);
    });
  });
}

const mail = (port: number, to: string) => sendMessage({
  host: '127.0.0.1', port, heloName: 'client.test', from: 'sender@origin.test', to: [to], timeoutMs: 5000,
  message: Buffer.from(`From: sender@origin.test\r\nTo: ${to}\r\nSubject: sync\r\nMessage-ID: <${Date.now()}@origin.test>\r\n\r\nhi\r\n`),
}).then((r) => r.get(to)!);

async function eventually(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.fail(`${what} within ${timeoutMs} ms`);
}

test('node takes its config from the backend, picks up changes while running, and keeps serving after the backend stops', async () => {
  const backendDir = mkdtempSync(join(tmpdir(), 'tidings-backend-'));
  const nodeDir = mkdtempSync(join(tmpdir(), 'tidings-node-'));
  dirs.push(backendDir, nodeDir);
  const httpPort = await freePort();
  const smtpPort = await freePort();

  await cli(backendDir, 'domain', 'add', 'example.com');
  await cli(backendDir, 'mailbox', 'add', 'anna@example.com');
  const token = (await cli(backendDir, 'node-token', 'mx-test')).trim();
  const backend = start('server/main.ts', { TIDINGS_STATE_DIR: backendDir, TIDINGS_HTTP_PORT: String(httpPort), TIDINGS_ROLE: 'backend' });
  await waitForPort(httpPort);

  const nodeEnv = { TIDINGS_STATE_DIR: nodeDir, TIDINGS_SMTP_PORT: String(smtpPort), TIDINGS_MX_BACKEND_URL: `http://127.0.0.1:${httpPort}`, TIDINGS_MX_TOKEN: token, TIDINGS_MX_HOSTNAME: 'mx.tidings.test' };
  let node = start('mailsystem/main.ts', nodeEnv);
  await waitForPort(smtpPort);
  await eventually('anna@example.com accepted after the first sync', async () => (await mail(smtpPort, 'anna@example.com')).kind === 'delivered', 10_000);
  const bert = await mail(smtpPort, 'bert@example.com');
  assert.equal(bert.kind, 'failed');
  assert.match(bert.response, /^550 5\.1\.1/);

  // A change made while the node runs arrives with its next poll: no restart.
  await cli(backendDir, 'mailbox', 'add', 'bert@example.com');
  await eventually('bert@example.com accepted without a restart', async () => (await mail(smtpPort, 'bert@example.com')).kind === 'delivered', 25_000);

  // Backend gone: the node keeps accepting for known addresses and refusing unknown ones, also after its own restart.
  await stop(backend);
  assert.equal((await mail(smtpPort, 'anna@example.com')).kind, 'delivered');
  await stop(node);
  node = start('mailsystem/main.ts', nodeEnv);
  await waitForPort(smtpPort);
  assert.equal((await mail(smtpPort, 'bert@example.com')).kind, 'delivered');
  assert.match((await mail(smtpPort, 'carol@example.com')).response, /^550 5\.1\.1/);
  await eventually('mail in anna\'s Maildir', async () => {
    const d = join(nodeDir, 'mx', 'mail', 'example.com', 'anna', 'Maildir', 'new');
    return existsSync(d) && readdirSync(d).length >= 2;
  }, 10_000);
  await stop(node);
});

// `npm start` is the whole system: one command serves the site and API and runs a supervised MX node.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, readdirSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sendMessage } from '#mailsystem/delivery/smtp-client.ts';
import { freePort, isListening } from '../support/ports.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const children: ChildProcess[] = [];
const dirs: string[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const listening = isListening;

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.fail(`${what} within ${timeoutMs} ms`);
}

async function startAllInOne(): Promise<{ proc: ChildProcess; httpPort: number; smtpPort: number; stateDir: string }> {
  const stateDir = mkdtempSync(join(tmpdir(), 'tidings-aio-'));
  dirs.push(stateDir);
  const env = { ...process.env, TIDINGS_STATE_DIR: stateDir, TIDINGS_LOG_LEVEL: 'warn' };
  const cli = (...args: string[]) => execFileSync(process.execPath, ['server/cli.ts', ...args], { cwd: ROOT, env, timeout: 20_000 });
  cli('mail', 'domain', 'add', 'aio.test');
  cli('mail', 'mailbox', 'add', 'dora@aio.test');
  const httpPort = await freePort();
  const smtpPort = await freePort();
  const proc = spawn(process.execPath, ['server/main.ts'], {
    cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...env, TIDINGS_HTTP_PORT: String(httpPort), TIDINGS_SMTP_PORT: String(smtpPort) },
  });
  children.push(proc);
  await until('HTTP listening', () => listening(httpPort), 120_000);
  await until('SMTP listening', () => listening(smtpPort), 30_000);
  return { proc, httpPort, smtpPort, stateDir };
}

test('one command: the page and API answer, and mail for a configured mailbox lands in its Maildir', async () => {
  const { proc, httpPort, smtpPort, stateDir } = await startAllInOne();
  const status = await fetch(`http://127.0.0.1:${httpPort}/status.json`);
  assert.equal(status.status, 200);
  assert.ok(((await status.json()) as { sections: unknown[] }).sections.length > 0);
  const task = await fetch(`http://127.0.0.1:${httpPort}/api/v1/tasks/2733`);
  assert.equal(((await task.json()) as { summary: string }).summary, 'Reworking / Scaling mailsystem inbound');

  const message = Buffer.from('From: a@origin.test\r\nTo: dora@aio.test\r\nSubject: aio\r\nMessage-ID: <aio-1@origin.test>\r\n\r\nall in one\r\n');
  let reply = '';
  await until('dora@aio.test accepted once the node has synced', async () => {
    const r = (await sendMessage({ host: '127.0.0.1', port: smtpPort, heloName: 'client.test', from: 'a@origin.test', to: ['dora@aio.test'], message, timeoutMs: 5000 })).get('dora@aio.test')!;
    reply = r.response;
    return r.kind === 'delivered';
  }, 30_000);
  assert.match(reply, /^250 /);
  const inbox = join(stateDir, 'mx', 'mail', 'aio.test', 'dora', 'Maildir', 'new');
  await until('message in the Maildir', () => existsSync(inbox) && readdirSync(inbox).length === 1, 15_000);
  assert.match(readFileSync(join(inbox, readdirSync(inbox)[0]), 'utf8'), /all in one/);

  // SIGTERM stops both processes cleanly.
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  proc.kill('SIGTERM');
  assert.equal(await exited, 0);
  assert.equal(await listening(smtpPort), false, 'the MX node stopped with the backend');
});

test('the MX node does not outlive a backend killed with SIGKILL', async () => {
  const { proc, smtpPort } = await startAllInOne();
  proc.kill('SIGKILL');
  await until('the orphaned MX node to stop listening', async () => !(await listening(smtpPort)), 20_000);
});

// `npm start` is the whole system: one command serves the site and API and runs a supervised MX node.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, readdirSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StatusJson } from '#data/contracts/status.ts';
import { sendMessage } from '#mailsystem/delivery/smtp-client.ts';
import { killHard, pidAlive } from '../support/child.ts';
import { startServerMain, type ServerMain } from '../support/server-main.ts';
import { waitFor } from '../support/wait.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const started: ServerMain[] = [];
const dirs: string[] = [];
after(async () => {
  for (const s of started) await killHard(s.child);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Backend and MX node on ports they bind themselves; the backend's log names both. */
async function startAllInOne(): Promise<{ server: ServerMain; httpPort: number; smtpPort: number; mxPid: number; stateDir: string }> {
  const stateDir = mkdtempSync(join(tmpdir(), 'tidings-aio-'));
  dirs.push(stateDir);
  const env = { ...process.env, TIDINGS_STATE_DIR: stateDir };
  const cli = (...args: string[]) => execFileSync(process.execPath, ['server/cli.ts', ...args], { cwd: ROOT, env, timeout: 60_000 });
  cli('mail', 'domain', 'add', 'aio.test');
  cli('mail', 'mailbox', 'add', 'dora@aio.test');
  // A short sync interval: the node learns dora@aio.test within a second instead of ten.
  const server = await startServerMain({ TIDINGS_STATE_DIR: stateDir, TIDINGS_MX_SYNC_INTERVAL: '1s' });
  started.push(server);
  const mx = await server.mx();
  return { server, httpPort: server.port, smtpPort: mx.port, mxPid: mx.pid, stateDir };
}

test('one command: the page and API answer, and mail for a configured mailbox lands in its Maildir', async () => {
  const { server, httpPort, smtpPort, mxPid, stateDir } = await startAllInOne();
  const status = await fetch(`http://127.0.0.1:${httpPort}/status.json`);
  assert.equal(status.status, 200);
  assert.ok(((await status.json()) as { sections: unknown[] }).sections.length > 0);
  const task = await fetch(`http://127.0.0.1:${httpPort}/api/v1/tasks/2733`);
  assert.equal(((await task.json()) as { summary: string }).summary, 'Reworking / Scaling mailsystem inbound');

  const message = Buffer.from(
    'From: a@origin.test\r\nTo: dora@aio.test\r\nSubject: aio\r\nMessage-ID: <aio-1@origin.test>\r\n\r\nall in one\r\n',
  );
  let reply = '';
  await waitFor(
    async () => {
      const r = (
        await sendMessage({
          host: '127.0.0.1',
          port: smtpPort,
          heloName: 'client.test',
          from: 'a@origin.test',
          to: ['dora@aio.test'],
          message,
          timeoutMs: 10_000,
        })
      ).get('dora@aio.test')!;
      reply = r.response;
      return r.kind === 'delivered';
    },
    () => `dora@aio.test accepted once the node has synced (last reply: ${reply})`,
    { timeoutMs: 30_000, intervalMs: 200 },
  );
  assert.match(reply, /^250 /);
  const inbox = join(stateDir, 'mx', 'mail', 'aio.test', 'dora', 'Maildir', 'new');
  await waitFor(() => existsSync(inbox) && readdirSync(inbox).length === 1, 'message in the Maildir', 30_000);
  assert.match(readFileSync(join(inbox, readdirSync(inbox)[0]), 'utf8'), /all in one/);

  // The node's telemetry reaches the public status: the Email section (TIDINGS_TELEMETRY_SECTION's default) shows
  // the delivery within a shipping interval plus the snapshot's 15 s refresh; no other section has telemetry.
  let sections: StatusJson['sections'] = [];
  await waitFor(
    async () => {
      sections = StatusJson.parse(await (await fetch(`http://127.0.0.1:${httpPort}/status.json`)).json()).sections;
      return sections.find((s) => s.slug === 'email')?.telemetry?.delivered === 1;
    },
    () => `status.json shows the delivery (last: ${JSON.stringify(sections.find((s) => s.slug === 'email')?.telemetry)})`,
    { timeoutMs: 40_000, intervalMs: 500 },
  );
  const email = sections.find((s) => s.slug === 'email')!.telemetry!;
  assert.deepEqual([email.accepted, email.delivered, email.nodes], [1, 1, 1]);
  assert.ok(email.p95LatencyMs !== null && email.p95LatencyMs > 0, 'a delivery has a p95');
  assert.deepEqual(
    sections.filter((s) => s.telemetry).map((s) => s.slug),
    ['email'],
  );

  // SIGTERM stops both processes cleanly: the backend exits 0 only after its MX node has exited.
  await server.stop();
  assert.equal(pidAlive(mxPid), false, 'the MX node stopped with the backend');
});

test('the MX node does not outlive a backend killed with SIGKILL', async () => {
  const { server, mxPid } = await startAllInOne();
  await killHard(server.child);
  // Not our child (the backend's), so its exit is seen by its pid going away.
  await waitFor(() => !pidAlive(mxPid), 'the orphaned MX node to exit', 30_000);
});

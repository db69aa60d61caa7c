// Real processes: backend and MX node started as the product starts them; config flows down, and the node outlives the backend.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mailOne } from '../support/mail-one.ts';
import { killHard } from '../support/child.ts';
import { spawnMxMain, type MainNode } from '../support/mx-main.ts';
import { mailCli, startServerMain, type ServerMain } from '../support/server-main.ts';
import { waitFor } from '../support/wait.ts';

const started: (MainNode | ServerMain)[] = [];
const dirs: string[] = [];
after(async () => {
  for (const p of started) await killHard(p.child);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const mail = (port: number, to: string) => mailOne(port, to, 'sync', `Message-ID: <${Date.now()}@origin.test>\r\n`);

/** Sends to the address until it is accepted: the node has synced the change (it polls every second here). */
async function acceptedAfterSync(port: number, to: string, what: string): Promise<void> {
  let last = '';
  await waitFor(
    async () => {
      const r = await mail(port, to);
      last = r.response;
      return r.kind === 'delivered';
    },
    () => `${what} (last reply: ${last})`,
    { timeoutMs: 30_000, intervalMs: 200 },
  );
}

test('node takes its config from the backend, picks up changes while running, and keeps serving after the backend stops', async () => {
  const backendDir = mkdtempSync(join(tmpdir(), 'tidings-backend-'));
  const nodeDir = mkdtempSync(join(tmpdir(), 'tidings-node-'));
  dirs.push(backendDir, nodeDir);

  await mailCli(backendDir, 'domain', 'add', 'example.com');
  await mailCli(backendDir, 'mailbox', 'add', 'anna@example.com');
  const token = (await mailCli(backendDir, 'node-token', 'mx-test')).trim();
  const backend = await startServerMain({ TIDINGS_STATE_DIR: backendDir, TIDINGS_ROLE: 'backend' });
  started.push(backend);

  const nodeEnv = {
    TIDINGS_STATE_DIR: nodeDir,
    TIDINGS_MX_BACKEND_URL: backend.url,
    TIDINGS_MX_TOKEN: token,
    TIDINGS_MX_SYNC_INTERVAL: '1s',
  };
  let node = await spawnMxMain(nodeEnv);
  started.push(node);
  await acceptedAfterSync(node.port, 'anna@example.com', 'anna@example.com accepted after the first sync');
  const bert = await mail(node.port, 'bert@example.com');
  assert.equal(bert.kind, 'failed');
  assert.match(bert.response, /^550 5\.1\.1/);

  // A change made while the node runs arrives with its next poll: no restart.
  await mailCli(backendDir, 'mailbox', 'add', 'bert@example.com');
  await acceptedAfterSync(node.port, 'bert@example.com', 'bert@example.com accepted without a restart');

  // Backend gone: the node keeps accepting for known addresses and refusing unknown ones, also after its own restart.
  await backend.stop();
  assert.equal((await mail(node.port, 'anna@example.com')).kind, 'delivered');
  await node.stop();
  node = await spawnMxMain(nodeEnv);
  started.push(node);
  assert.equal((await mail(node.port, 'bert@example.com')).kind, 'delivered');
  assert.match((await mail(node.port, 'carol@example.com')).response, /^550 5\.1\.1/);
  const inbox = join(nodeDir, 'mx', 'mail', 'example.com', 'anna', 'Maildir', 'new');
  await waitFor(() => existsSync(inbox) && readdirSync(inbox).length >= 2, "mail in anna's Maildir", 30_000);
  await node.stop();
});

// Real processes: the backend (server/main.ts) and an MX node (mailsystem/main.ts) as they run in production.
// The node's telemetry reaches the backend with exactly the counts its SMTP replies imply, and stopping the
// backend for part of the run and starting it again changes nothing in the final counts: no loss, no double count.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { after, test } from 'node:test';
import { openDatabase, type DB } from '#data/db.ts';
import { telemetrySummary } from '#server/services/telemetry/summary.ts';
import { mailOne } from '../support/mail-one.ts';
import { killHard } from '../support/child.ts';
import { spawnMxMain, spawnShippingNode, type MainNode } from '../support/mx-main.ts';
import { mailCli, startServerMain, type ServerMain } from '../support/server-main.ts';
import { FakeTelemetryBackend } from '../support/telemetry-backend.ts';
import { waitFor } from '../support/wait.ts';

const started: (MainNode | ServerMain)[] = [];
const dirs: string[] = [];
const dbs: DB[] = [];
after(async () => {
  for (const db of dbs) db.close();
  for (const p of started) await killHard(p.child);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** What the SMTP replies said, counted by the test: the backend must end with exactly these. */
const replies = { accepted: 0, unknownUser: 0 };

async function mail(port: number, to: string): Promise<'accepted' | 'unknown-user' | string> {
  const reply = await mailOne(port, to, 'telemetry');
  if (reply.kind === 'delivered') {
    replies.accepted++;
    return 'accepted';
  }
  if (/^550 5\.1\.1/.test(reply.response)) {
    replies.unknownUser++;
    return 'unknown-user';
  }
  return reply.response;
}

test('node telemetry reaches the backend exactly once, across a backend outage', { timeout: 240_000 }, async () => {
  const backendDir = mkdtempSync(join(tmpdir(), 'tidings-tel-backend-'));
  const nodeDir = mkdtempSync(join(tmpdir(), 'tidings-tel-node-'));
  dirs.push(backendDir, nodeDir);
  await mailCli(backendDir, 'domain', 'add', 'example.com');
  await mailCli(backendDir, 'mailbox', 'add', 'anna@example.com');
  const token = (await mailCli(backendDir, 'node-token', 'mx-tel')).trim();
  const backendEnv = { TIDINGS_STATE_DIR: backendDir, TIDINGS_ROLE: 'backend' };
  let backend = await startServerMain(backendEnv);
  started.push(backend);

  const node = await spawnShippingNode(nodeDir, backend.url, token, { TIDINGS_TELEMETRY_BATCH: '3' });
  started.push(node);
  const nodeDb = openDatabase(join(nodeDir, 'mx', 'node.sqlite'));
  dbs.push(nodeDb);
  const backendDb = openDatabase(join(backendDir, 'backend.sqlite'));
  dbs.push(backendDb);

  // Until the first config sync anna is unknown too; every reply is counted either way.
  await waitFor(async () => (await mail(node.port, 'anna@example.com')) === 'accepted', 'anna accepted after the first sync', {
    timeoutMs: 30_000,
    intervalMs: 200,
  });
  for (let i = 0; i < 4; i++) assert.equal(await mail(node.port, 'anna@example.com'), 'accepted');
  for (let i = 0; i < 3; i++) assert.equal(await mail(node.port, `nobody${i}@example.com`), 'unknown-user');

  const nodeLastSeq = () => nodeDb.prepare('SELECT coalesce(max(seq), 0) FROM events').pluck().get() as number;
  const queued = () => nodeDb.prepare("SELECT count(*) FROM deliveries WHERE state = 'queued'").pluck().get() as number;
  const backendCursor = () => (backendDb.prepare('SELECT coalesce(max(cursor), 0) FROM telemetry_cursors').pluck().get() as number) ?? 0;
  const counts = () => {
    const s = telemetrySummary(backendDb, { from: 0, to: Date.now() + 3_600_000 }, new Date());
    const sum = (outcome: string, reason?: string) =>
      s.outcomes.filter((o) => o.outcome === outcome && (reason === undefined || o.reason === reason)).reduce((a, o) => a + o.count, 0);
    return {
      accepted: sum('accepted'),
      delivered: sum('delivered'),
      unknownUser: sum('rejected', 'unknown-user'),
      rejected: sum('rejected'),
      heartbeats: s.nodes.length,
    };
  };
  const expected = () => ({
    accepted: replies.accepted,
    delivered: replies.accepted,
    unknownUser: replies.unknownUser,
    rejected: replies.unknownUser,
    heartbeats: 1,
  });
  const shippedAll = async (what: string) => {
    await waitFor(() => queued() === 0, 'the node delivered everything', 30_000);
    await waitFor(
      () => backendCursor() === nodeLastSeq(),
      () => `${what}: backend cursor ${backendCursor()} = node's last seq ${nodeLastSeq()}`,
      { timeoutMs: 60_000, intervalMs: 100 },
    );
  };

  await shippedAll('first run');
  assert.deepEqual(counts(), expected(), 'the backend holds exactly what the SMTP replies said');

  // The backend goes away: the node keeps accepting, refusing and delivering; its log waits.
  const port = backend.port;
  await backend.stop();
  const cursorWhileDown = nodeDb.prepare('SELECT acked_seq FROM telemetry_cursor').pluck().get() as number;
  for (let i = 0; i < 5; i++) assert.equal(await mail(node.port, 'anna@example.com'), 'accepted');
  for (let i = 0; i < 4; i++) assert.equal(await mail(node.port, `ghost${i}@example.com`), 'unknown-user');
  await waitFor(() => queued() === 0, 'delivered while the backend is down', 30_000);
  assert.equal(nodeDb.prepare('SELECT acked_seq FROM telemetry_cursor').pluck().get(), cursorWhileDown, 'no ack, no cursor move');

  // Back on the same port with the same database: the backlog ships in order, nothing counted twice.
  backend = await startServerMain({ ...backendEnv, TIDINGS_HTTP_PORT: String(port) });
  started.push(backend);
  for (let i = 0; i < 2; i++) assert.equal(await mail(node.port, 'anna@example.com'), 'accepted');
  await shippedAll('after the outage');
  assert.deepEqual(counts(), expected(), 'final counts exact after the outage');
  assert.equal(replies.accepted >= 12, true);

  await node.stop();
  await backend.stop();
});

test('SIGTERM with a telemetry POST hanging: the node still drains and exits 0 promptly', { timeout: 60_000 }, async (t) => {
  const backend = await FakeTelemetryBackend.start();
  t.after(() => backend.stop());
  backend.mode = 'hang';
  const nodeDir = mkdtempSync(join(tmpdir(), 'tidings-tel-hang-'));
  dirs.push(nodeDir);
  const hanging = once(backend, 'hanging');
  const node = await spawnMxMain({
    TIDINGS_STATE_DIR: nodeDir,
    TIDINGS_MX_BACKEND_URL: backend.url,
    TIDINGS_MX_TOKEN: 'mxn_test',
    TIDINGS_TELEMETRY_INTERVAL: '1s',
  });
  started.push(node);
  // Any refusal gives the node an event to ship (an empty replica hosts nothing: 550 5.7.1); the POST is never answered.
  assert.match(await mail(node.port, 'nobody@example.com'), /^550 5\.7\.1/);
  await hanging;
  await node.stop(); // exit code 0 within the node's drain deadline, or this throws
});

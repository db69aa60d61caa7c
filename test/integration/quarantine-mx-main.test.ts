// mailsystem/main.ts wires the node's quarantine half (issue 12): after each config sync it fetches its pending staff
// actions with its token and applies them; the shipper sends the 'released' event; the heartbeat says the node does
// not scan (TIDINGS_SCAN=off). A real node process; the backend is a fake speaking the protocol over loopback HTTP.
import { after, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MIGRATIONS, openDatabase } from '#data/db.ts';
import { TelemetryBatch, type TelemetryEvent, TelemetryHeartbeat } from '#data/contracts/telemetry.ts';
import { applyConfigChanges } from '#mailsystem/config/apply.ts';
import { quarantineRecord } from '#mailsystem/quarantine/entry.ts';
import { QueueStore } from '#mailsystem/queue/store.ts';
import { killHard } from '../support/child.ts';
import { ANNA_MAILDIR_REPLICA, type MainNode, spawnMxMain } from '../support/mx-main.ts';
import { mailboxMessages } from '../support/mx-harness.ts';
import { waitFor } from '../support/wait.ts';

const TOKEN = 'mxn_main_quarantine';
const dir = mkdtempSync(join(tmpdir(), 'tidings-quarantine-main-'));
let node: MainNode | undefined;
const events: TelemetryEvent[] = [];
const beats: TelemetryHeartbeat[] = [];
const actionRequests: (string | undefined)[] = [];
let configRequests = 0;

const server = createServer((req: IncomingMessage, res: ServerResponse) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const url = new URL(req.url ?? '/', 'http://x');
    const json = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return json(401, {});
    const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString()) : null;
    switch (url.pathname) {
      case '/api/v1/mx/config': {
        configRequests++;
        const since = Number(url.searchParams.get('since'));
        return json(200, { since, version: since, more: false, reset: false, changes: [] });
      }
      case '/api/v1/mx/quarantine/actions':
        actionRequests.push(req.headers.authorization);
        // Pending until its event arrives, as the backend keeps it.
        return json(200, {
          actions: events.some((e) => e.type === 'released') ? [] : [{ id: 41, deliveryId: 1, messageId: 'q1', action: 'release' }],
        });
      case '/api/v1/telemetry': {
        const batch = TelemetryBatch.parse(body);
        events.push(...batch.events);
        return json(200, { cursor: batch.events.at(-1)?.seq ?? batch.after, applied: batch.events.length });
      }
      case '/api/v1/telemetry/heartbeat':
        beats.push(TelemetryHeartbeat.parse(body));
        return json(200, {});
      default:
        return json(404, {});
    }
  });
});

after(async () => {
  if (node) await killHard(node.child);
  server.closeAllConnections();
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

it('the node process fetches staff actions after its config sync, releases the copy, ships the event and says it does not scan', async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const backendUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // The node's database as a previous run left it: the replica, and one copy of a message in quarantine.
  const db = openDatabase(join(dir, 'mx', 'node.sqlite'), { migrationsDir: MIGRATIONS.node, synchronous: 'FULL' });
  const version = ANNA_MAILDIR_REPLICA.reduce((v, c) => Math.max(v, c.version), 0);
  applyConfigChanges(db, { since: 0, version, more: false, reset: false, changes: [...ANNA_MAILDIR_REPLICA] }, new Date());
  new QueueStore(db).insertAccepted({
    id: 'q1',
    receivedAt: Date.now() - 3_600_000,
    envelopeFrom: 'sender@origin.test',
    clientIp: '192.0.2.1',
    helo: 'origin.test',
    body: Buffer.from('From: sender@origin.test\r\nSubject: kept back\r\nX-Marker: main-release\r\n\r\nhello\r\n'),
    isSpam: true,
    deliveries: [
      {
        recipient: 'anna@example.com',
        route: { kind: 'maildir', mailbox: 'anna@example.com' },
        quarantine: quarantineRecord({
          reason: 'spam',
          verdict: { spam: { score: 12, symbols: [{ name: 'GTUBE', score: 12 }] } },
          recipient: 'anna@example.com',
          route: { kind: 'maildir', mailbox: 'anna@example.com' },
          sender: 'sender@origin.test',
          subject: 'kept back',
        }),
      },
    ],
  });
  assert.equal(db.prepare("SELECT id FROM deliveries WHERE state = 'quarantined'").pluck().get(), 1);
  db.close();

  node = await spawnMxMain({
    TIDINGS_STATE_DIR: dir,
    TIDINGS_MX_BACKEND_URL: backendUrl,
    TIDINGS_MX_TOKEN: TOKEN,
    TIDINGS_MX_SYNC_INTERVAL: '1s',
    TIDINGS_TELEMETRY_INTERVAL: '1s',
    TIDINGS_TELEMETRY_HEARTBEAT_INTERVAL: '1s',
    TIDINGS_SCAN: 'off',
  });
  const maildir = join(dir, 'mx', 'mail');
  await waitFor(() => mailboxMessages(maildir, 'anna@example.com').length === 1, 'the released copy in the mailbox', 30_000);
  assert.match(mailboxMessages(maildir, 'anna@example.com')[0].toString(), /X-Marker: main-release/);
  assert.ok(configRequests >= 1 && actionRequests.length >= 1);
  assert.ok(actionRequests.every((a) => a === `Bearer ${TOKEN}`));
  await waitFor(
    () => events.some((e) => e.type === 'delivered') && beats.length > 0,
    'the released and delivered events shipped, and a heartbeat',
    30_000,
  );
  const mine = events.filter((e) => e.type === 'quarantined' || e.type === 'released' || e.type === 'delivered').map((e) => e.type);
  assert.deepEqual(mine, ['quarantined', 'released', 'delivered']);
  const released = events.find((e) => e.type === 'released');
  assert.deepEqual(released && { deliveryId: released.deliveryId, actionId: released.actionId }, { deliveryId: 1, actionId: 41 });
  assert.ok(
    beats.every((b) => b.scanning === 'off'),
    'every heartbeat says scanning is off',
  );
  // Further syncs keep asking; the action is gone once its event arrived, and the copy is delivered once.
  const asked = actionRequests.length;
  await waitFor(() => actionRequests.length > asked, 'another fetch after the next sync', 30_000);
  assert.equal(mailboxMessages(maildir, 'anna@example.com').length, 1);
  await node.stop();
  node = undefined;
});

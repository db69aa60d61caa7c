// The MX node's half of the quarantine (issue 12, data/contracts/quarantine.ts): a copy kept back over SMTP is logged
// with the entry the backend's index shows; staff actions fetched from the backend after a config sync release it
// (delivered once, as if clean, its age counted from the release) or delete it (bytes gone), each with its event;
// the retention job writes its own; every new event ships and validates against the wire contract. The checks are a
// stub here (the scanners have tests of their own: scan-real, policy-matrix); the backend is a fake speaking the
// protocol over loopback HTTP.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { QuarantineAction } from '#data/contracts/quarantine.ts';
import { type TelemetryBatch, TelemetryBatch as TelemetryBatchSchema, TelemetryHeartbeat } from '#data/contracts/telemetry.ts';
import type { DB } from '#data/db.ts';
import type { MailSystem } from '#mailsystem/app.ts';
import type { Checks } from '#mailsystem/checks/types.ts';
import { createConfigSync } from '#mailsystem/config/sync.ts';
import { silentLog } from '#mailsystem/deps.ts';
import type { Facts } from '#mailsystem/policy/decide.ts';
import { createQuarantineActionsClient } from '#mailsystem/quarantine/actions.ts';
import { openNodeDatabase } from '#mailsystem/queue/open.ts';
import { createShipper, DEFAULT_MAX_BATCH_BYTES } from '#mailsystem/telemetry/shipper.ts';
import { QueueStore } from '#mailsystem/queue/store.ts';
import { quarantineRecord, quarantineSubject } from '#mailsystem/quarantine/entry.ts';
import { eventLog } from '#mailsystem/telemetry/events.ts';
import { heartbeatReader } from '#mailsystem/telemetry/gauges.ts';
import { createMxMetrics, type MxMetrics } from '#mailsystem/telemetry/metrics.ts';
import { sendMessage } from '#mailsystem/delivery/smtp-client.ts';
import { fakeDirectory } from '../support/fake-directory.ts';
import { startNode } from '../support/mx-harness.ts';
import { waitFor } from '../support/wait.ts';

const DAY = 86_400_000;
const TOKEN = 'mxn_quarantine_test';

const HAM: Facts = { spam: { status: 'scored', score: 0.5, action: 'no action' }, virus: { status: 'clean' }, dmarc: { status: 'off' } };
/** The message says what the scanners would find; the verdict record has the shape mailsystem/checks/index.ts writes. */
const checks: Checks = async ({ message }) => {
  const text = message.toString('latin1');
  if (text.includes('MARK-VIRUS'))
    return {
      facts: { ...HAM, virus: { status: 'infected', name: 'Eicar-Test-Signature' } },
      message,
      verdict: { spam: { score: 0.5, symbols: [] }, virus: { result: 'infected', name: 'Eicar-Test-Signature\u0007' } },
    };
  if (text.includes('MARK-SPAM'))
    return {
      facts: { ...HAM, spam: { status: 'scored', score: 15, requiredScore: 15, action: 'reject' } },
      message,
      verdict: {
        spam: {
          score: 15,
          symbols: [
            { name: 'GTUBE', score: 15 },
            { name: 'ODD\u0001SYMBOL', score: 1 },
            { name: 'R_SPF_NA', score: 0 },
          ],
        },
        virus: { result: 'clean' },
      },
    };
  return { facts: HAM, message, verdict: {} };
};

// Spam is quarantined (remove), viruses too (the default).
const directory = fakeDirectory({
  domains: ['example.test'],
  addresses: { 'anna@example.test': [{ kind: 'maildir', mailbox: 'anna@example.test' }] },
  policies: { '*': { spam: 'remove' } },
});

/** The fake backend: its pending actions, what it answers, and the requests it saw. */
const backend = {
  actions: [] as QuarantineAction[],
  mode: 'ok' as 'ok' | '404' | '500' | 'garbage' | 'bad-shape' | 'hang',
  auth: [] as (string | undefined)[],
  configRequests: 0,
};
let server: Server;
let backendUrl: string;
const hanging = new Set<ServerResponse>();

function handle(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://x');
  const json = (status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };
  if (req.headers.authorization !== `Bearer ${TOKEN}`) return json(401, { title: 'Unauthorized' });
  if (url.pathname === '/api/v1/mx/config') {
    backend.configRequests++;
    const since = Number(url.searchParams.get('since'));
    return json(200, { since, version: since, more: false, reset: false, changes: [] });
  }
  if (url.pathname !== '/api/v1/mx/quarantine/actions') return json(404, { title: 'Not Found' });
  backend.auth.push(req.headers.authorization);
  switch (backend.mode) {
    case 'ok':
      return json(200, { actions: backend.actions });
    case '404':
      return json(404, { title: 'Not Found' });
    case '500':
      return json(500, { title: 'boom' });
    case 'garbage':
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"actions": [');
      return;
    case 'bad-shape':
      return json(200, { actions: [{ id: 1, deliveryId: 2, messageId: 'm2', action: 'explode' }] });
    case 'hang':
      hanging.add(res);
      return;
  }
}

let dir: string;
let db: DB;
let mx: MailSystem;
let port: number;
let metrics: MxMetrics;
/** The node's clock: the test moves it to show what counts from the release and what the retention sees. */
let now = Date.UTC(2026, 10, 2, 12);
const clock = { now: () => now };

before(async () => {
  server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  backendUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  dir = mkdtempSync(join(tmpdir(), 'tidings-quarantine-node-'));
  db = openNodeDatabase(join(dir, 'node.sqlite'));
  metrics = createMxMetrics(
    { readGauges: heartbeatReader(db), ackedCursor: eventLog(db).cursor, now: clock.now },
    { processMetrics: false },
  );
  ({ mx, port } = await startNode(
    db,
    dir,
    { worker: { idlePollMs: 20 } },
    {
      directory,
      clock,
      buildDsn: () => Buffer.alloc(0),
      checks,
      observeEvent: (e) => metrics.observe(e),
      fetchQuarantineActions: createQuarantineActionsClient({ backendUrl, token: TOKEN, requestTimeoutMs: 2_000 }),
    },
  ));
});

after(async () => {
  for (const res of hanging) res.destroy();
  await mx.stop();
  db.close();
  server.closeAllConnections();
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

async function send(subjectLine: string, marker: string): Promise<void> {
  const r = await sendMessage({
    host: '127.0.0.1',
    port,
    heloName: 'client.test',
    from: 'sender@origin.test',
    to: ['anna@example.test'],
    timeoutMs: 10_000,
    message: Buffer.concat([
      Buffer.from('From: sender@origin.test\r\nTo: anna@example.test\r\n'),
      Buffer.from(subjectLine, 'latin1'),
      Buffer.from(`\r\nMessage-ID: <${marker}@origin.test>\r\n\r\n${marker}\r\n`),
    ]),
  });
  assert.equal(r.get('anna@example.test')?.kind, 'delivered', `${marker} accepted`);
}

interface EventRow {
  seq: number;
  type: string;
  message_id: string;
  delivery_id: number | null;
  reason: string | null;
  latency_ms: number | null;
  detail: string | null;
}
const events = (type: string): EventRow[] => db.prepare('SELECT * FROM events WHERE type = ? ORDER BY seq').all(type) as EventRow[];
/** The delivery id of the quarantined copy of the message with this marker (its Message-ID). */
const copies = new Map<string, { id: number; messageId: string }>();
function copyOf(marker: string): { id: number; messageId: string } {
  const known = copies.get(marker);
  if (known) return known;
  const rows = db
    .prepare(`SELECT d.id, d.message_id AS messageId FROM deliveries d JOIN message_bodies b ON b.id = (SELECT body_id FROM messages WHERE id = d.message_id)
              WHERE instr(CAST(b.body AS TEXT), ?) > 0`)
    .all(`<${marker}@origin.test>`) as { id: number; messageId: string }[];
  assert.equal(rows.length, 1, `one copy of ${marker}`);
  copies.set(marker, rows[0]);
  return rows[0];
}
const stateOf = (id: number): string => db.prepare('SELECT state FROM deliveries WHERE id = ?').pluck().get(id) as string;
function maildirFiles(): string[] {
  const newDir = join(dir, 'mail', 'example.test', 'anna', 'Maildir', 'new');
  return existsSync(newDir) ? readdirSync(newDir).map((f) => readFileSync(join(newDir, f), 'latin1')) : [];
}

describe('the node quarantine', () => {
  it('logs each kept-back copy with a clean entry: decoded subject, no control characters, long subjects cut', async () => {
    await send('Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe_=01aus?=\x02 =?ISO-8859-1?B?S/Zsbg==?= MARK-SPAM', 'spam-1');
    await send(`Subject: ${'long '.repeat(100)}MARK-SPAM`, 'spam-long');
    await send('Subject: invoice MARK-VIRUS', 'virus-1');
    const rows = events('quarantined');
    assert.equal(rows.length, 3);
    const entries = rows.map((r) => JSON.parse(r.detail ?? '{}').entry);
    const spam = copyOf('spam-1');
    assert.deepEqual(entries[0], {
      deliveryId: spam.id,
      recipient: 'anna@example.test',
      route: 'maildir',
      target: 'anna@example.test',
      sender: 'sender@origin.test',
      subject: 'Grüße aus Köln MARK-SPAM',
      size: entries[0].size,
      score: 15,
      symbols: ['GTUBE', 'ODDSYMBOL', 'R_SPF_NA'],
      virus: null,
    });
    const stored = db.prepare('SELECT size FROM messages WHERE id = ?').pluck().get(spam.messageId);
    assert.equal(entries[0].size, stored, 'the size of the stored message');
    assert.equal(entries[1].subject, `${`${'long '.repeat(100)}MARK-SPAM`.slice(0, 200)}…`);
    assert.equal(entries[2].virus, 'Eicar-Test-Signature');
    assert.equal(entries[2].subject, 'invoice MARK-VIRUS');
  });

  it('a release delivers the copy once, as if clean, its age counted from the release; the same action again does nothing', async () => {
    const spam = copyOf('spam-1');
    now += 5 * DAY; // five days in quarantine
    const applied = await mx.applyQuarantineActions([{ id: 11, deliveryId: spam.id, messageId: spam.messageId, action: 'release' }]);
    assert.deepEqual(
      applied.map((a) => a.result),
      ['released'],
    );
    await waitFor(() => stateOf(spam.id) === 'delivered', 'the released copy delivered');
    const files = maildirFiles();
    assert.equal(files.length, 1, 'one copy in the mailbox');
    assert.match(files[0], /<spam-1@origin\.test>/);
    assert.doesNotMatch(files[0], /X-Spam-|\[SPAM\]/, 'as if clean: no tag');
    const released = events('released');
    assert.deepEqual(
      released.map((r) => [r.delivery_id, r.message_id, JSON.parse(r.detail ?? '{}').actionId]),
      [[spam.id, spam.messageId, 11]],
    );
    const delivered = events('delivered');
    assert.equal(delivered.length, 1);
    assert.ok((delivered[0].latency_ms ?? Infinity) < DAY, `latency from the release, not the accept: ${delivered[0].latency_ms} ms`);
    assert.ok(delivered[0].seq > released[0].seq);
    // The node may fetch the action again before its event reached the backend.
    const again = await mx.applyQuarantineActions([{ id: 11, deliveryId: spam.id, messageId: spam.messageId, action: 'release' }]);
    assert.deepEqual(
      again.map((a) => a.result),
      ['not-quarantined'],
    );
    assert.equal(stateOf(spam.id), 'delivered');
    assert.equal(events('released').length, 1);
    // It changed nothing, and says so: the backend resolves the action from this event (else it stays pending).
    assert.deepEqual(
      events('quarantine-refused').map((r) => [r.delivery_id, r.message_id, r.reason, JSON.parse(r.detail ?? '{}').actionId]),
      [[spam.id, spam.messageId, 'not-quarantined', 11]],
    );
    assert.equal(db.prepare("SELECT count(*) FROM deliveries WHERE state = 'queued'").pluck().get(), 0, 'nothing left to deliver');
    assert.equal(maildirFiles().length, 1);
  });

  it('a virus is never released; deleting it removes the bytes and writes purged with the action', async () => {
    const virus = copyOf('virus-1');
    const kept = await mx.applyQuarantineActions([{ id: 12, deliveryId: virus.id, messageId: virus.messageId, action: 'release' }]);
    assert.deepEqual(
      kept.map((a) => a.result),
      ['virus-kept'],
    );
    assert.equal(stateOf(virus.id), 'quarantined');
    assert.equal(events('released').length, 1, 'no new released event');
    assert.ok(mx.store.messageBody(virus.messageId).length > 0);

    // A delivery id that names another message (a rebuilt node database hands ids out again) is not this copy.
    const other = await mx.applyQuarantineActions([{ id: 15, deliveryId: virus.id, messageId: 'another-message', action: 'delete' }]);
    assert.deepEqual(
      other.map((a) => a.result),
      ['not-quarantined'],
    );
    assert.equal(stateOf(virus.id), 'quarantined', 'the copy of the other message stays');
    assert.ok(mx.store.messageBody(virus.messageId).length > 0);

    const deleted = await mx.applyQuarantineActions([
      { id: 13, deliveryId: virus.id, messageId: virus.messageId, action: 'delete' },
      { id: 13, deliveryId: virus.id, messageId: virus.messageId, action: 'delete' },
      { id: 14, deliveryId: 999_999, messageId: 'gone', action: 'delete' },
    ]);
    assert.deepEqual(
      deleted.map((a) => a.result),
      ['deleted', 'not-quarantined', 'not-quarantined'],
    );
    assert.equal(stateOf(virus.id), 'discarded');
    assert.equal(mx.store.messageBody(virus.messageId).length, 0, 'the bytes are gone');
    assert.equal(db.prepare('SELECT count(*) FROM quarantine WHERE delivery_id = ?').pluck().get(virus.id), 0);
    const purged = events('purged');
    assert.deepEqual(
      purged.map((r) => [r.delivery_id, r.reason, JSON.parse(r.detail ?? '{}').actionId]),
      [[virus.id, 'staff', 13]],
    );
    // Every action that changed nothing wrote a 'quarantine-refused' event naming it, in order with the others.
    assert.deepEqual(
      events('quarantine-refused')
        .slice(1)
        .map((r) => [r.delivery_id, r.message_id, r.reason, JSON.parse(r.detail ?? '{}').actionId]),
      [
        [virus.id, virus.messageId, 'virus', 12],
        [virus.id, 'another-message', 'not-quarantined', 15],
        [virus.id, virus.messageId, 'not-quarantined', 13],
        [999_999, 'gone', 'not-quarantined', 14],
      ],
    );
  });

  it('the retention job deletes old copies with a purged event of reason retention', async () => {
    const long = copyOf('spam-long');
    now += 31 * DAY;
    assert.equal(await mx.pruneQuarantine(), 1);
    assert.equal(stateOf(long.id), 'discarded');
    assert.equal(mx.store.messageBody(long.messageId).length, 0);
    const purged = events('purged').at(-1);
    assert.deepEqual([purged?.delivery_id, purged?.reason, purged?.detail], [long.id, 'retention', null]);
  });

  it('the shipper sends the new events and a heartbeat saying whether the node scans, all valid for the contract', async () => {
    const posted: { path: string; body: unknown }[] = [];
    const shipper = createShipper({
      db,
      clock,
      log: silentLog,
      scanning: 'off',
      post: async (path, body) => {
        posted.push({ path, body: JSON.parse(JSON.stringify(body)) });
        if (path === '/api/v1/telemetry') {
          const batch = body as TelemetryBatch;
          return { status: 200, body: { cursor: batch.events.at(-1)?.seq ?? batch.after, applied: batch.events.length } };
        }
        return { status: 204, body: null };
      },
    });
    const outcome = await shipper.shipOnce();
    assert.equal(outcome.kind, 'acked', JSON.stringify(outcome));
    assert.equal(await shipper.heartbeatOnce(), true);
    await shipper.stop();
    const batch = TelemetryBatchSchema.parse(posted.find((p) => p.path === '/api/v1/telemetry')?.body);
    const quarantined = batch.events.filter((e) => e.type === 'quarantined');
    assert.equal(quarantined.length, 3);
    assert.ok(quarantined.every((e) => e.entry !== undefined && e.reason !== undefined));
    const spam = copyOf('spam-1');
    const virus = copyOf('virus-1');
    const long = copyOf('spam-long');
    assert.deepEqual(
      batch.events.filter((e) => e.type === 'released' || e.type === 'purged').map(({ seq: _s, at: _a, ...e }) => e),
      [
        { type: 'released', messageId: spam.messageId, deliveryId: spam.id, actionId: 11 },
        { type: 'purged', messageId: virus.messageId, deliveryId: virus.id, reason: 'staff', actionId: 13 },
        { type: 'purged', messageId: long.messageId, deliveryId: long.id, reason: 'retention' },
      ],
    );
    const beat = TelemetryHeartbeat.parse(posted.find((p) => p.path === '/api/v1/telemetry/heartbeat')?.body);
    assert.equal(beat.scanning, 'off');
    // The node's own metrics count them too.
    const text = await metrics.registry.metrics();
    assert.match(text, /^tidings_mx_quarantine_released_total\{route="maildir"\} 1$/m);
    assert.match(text, /^tidings_mx_quarantine_purged_total\{reason="staff"\} 1$/m);
    assert.match(text, /^tidings_mx_quarantine_purged_total\{reason="retention"\} 1$/m);
    // (the shipper pruned the acknowledged events: count the refusals in what it shipped)
    const refused = new Map<string, number>();
    for (const e of batch.events) if (e.type === 'quarantine-refused') refused.set(e.why, (refused.get(e.why) ?? 0) + 1);
    assert.deepEqual([...refused.keys()].sort(), ['not-quarantined', 'virus']);
    for (const [why, n] of refused)
      assert.match(text, new RegExp(`^tidings_mx_quarantine_refused_total\\{why="${why}"\\} ${n}$`, 'm'), why);
  });
});

describe('fetching staff actions', () => {
  const client = (timeoutMs = 2_000) => createQuarantineActionsClient({ backendUrl, token: TOKEN, requestTimeoutMs: timeoutMs });

  it('reads the pending actions with the node token', async () => {
    backend.mode = 'ok';
    backend.actions = [
      { id: 1, deliveryId: 5, messageId: 'm5', action: 'release' },
      { id: 2, deliveryId: 6, messageId: 'm6', action: 'delete' },
    ];
    backend.auth.length = 0;
    assert.deepEqual(await client()(), { ok: true, actions: backend.actions });
    assert.deepEqual(backend.auth, [`Bearer ${TOKEN}`]);
    const wrongToken = createQuarantineActionsClient({ backendUrl, token: 'mxn_wrong' });
    assert.deepEqual(await wrongToken(), { ok: false, error: 'backend answered HTTP 401' });
  });

  it('never throws: an older backend (404) has no actions; 5xx, garbage, a wrong shape, a stall or no backend are failures', async () => {
    backend.mode = '404';
    assert.deepEqual(await client()(), { ok: true, actions: [] });
    backend.mode = '500';
    assert.deepEqual(await client()(), { ok: false, error: 'backend answered HTTP 500' });
    backend.mode = 'garbage';
    assert.deepEqual(await client()(), { ok: false, error: 'the answer is not JSON' });
    backend.mode = 'bad-shape';
    const bad = await client()();
    assert.equal(bad.ok, false);
    assert.match((bad as { error: string }).error, /not a QuarantineActionsPayload \(actions\.0\.action/);
    backend.mode = 'hang';
    const stalled = await client(200)();
    assert.equal(stalled.ok, false);
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const deadUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const gone = await createQuarantineActionsClient({ backendUrl: deadUrl, token: TOKEN })();
    assert.equal(gone.ok, false);
    backend.mode = 'ok';
    // A failed fetch changes nothing on the node and the poll says so instead of throwing.
    backend.mode = 'garbage';
    assert.deepEqual(await mx.pollQuarantineActions(), { ok: false, error: 'the answer is not JSON' });
    backend.mode = 'ok';
  });

  it('runs right after each config sync and applies what it fetched: a release sent over SMTP ends in the mailbox', async () => {
    await send('Subject: second chance MARK-SPAM', 'spam-2');
    const spam2 = copyOf('spam-2');
    assert.equal(stateOf(spam2.id), 'quarantined');
    backend.mode = 'ok';
    backend.actions = [{ id: 21, deliveryId: spam2.id, messageId: spam2.messageId, action: 'release' }];
    const sync = createConfigSync({ db, backendUrl, token: TOKEN, clock, log: silentLog, afterSync: () => mx.pollQuarantineActions() });
    const before = backend.configRequests;
    const outcome = await sync.syncOnce();
    assert.equal(outcome.ok, true);
    assert.equal(backend.configRequests, before + 1);
    // syncOnce resolves after the actions were applied (durably): the copy is queued or already delivered.
    assert.notEqual(stateOf(spam2.id), 'quarantined');
    await waitFor(() => stateOf(spam2.id) === 'delivered', 'the copy released after the sync delivered');
    assert.equal(maildirFiles().filter((f) => f.includes('<spam-2@origin.test>')).length, 1);
    // The backend has not seen the event yet and hands out the same action again: nothing happens twice.
    await sync.syncOnce();
    sync.stop();
    assert.equal(events('released').filter((r) => r.delivery_id === spam2.id).length, 1);
    assert.equal(maildirFiles().filter((f) => f.includes('<spam-2@origin.test>')).length, 1);
  });
});

describe('shipping large entries', () => {
  it("never sends a batch over the backend's 1 MiB body limit, however large the entries of a spam wave", async () => {
    const wave = openNodeDatabase(join(dir, 'wave.sqlite'));
    const store = new QueueStore(wave);
    // 500 copies with entries as large as the contract lets them be: ~10 KiB each, ~5 MB in one batch of 500.
    const body = Buffer.from(`Subject: ${'漢'.repeat(300)}\r\n\r\nx\r\n`);
    const symbols = Array.from({ length: 60 }, (_, i) => ({ name: `${i}${'S'.repeat(140)}`, score: i }));
    wave.transaction(() => {
      for (let i = 0; i < 500; i++)
        store.insertAccepted({
          id: `w${i}`,
          receivedAt: now,
          envelopeFrom: `${'ü'.repeat(400)}@origin.test`,
          clientIp: '192.0.2.1',
          helo: 'origin.test',
          body,
          deliveries: [
            {
              recipient: `${'é'.repeat(400)}@example.test`,
              route: { kind: 'maildir', mailbox: 'anna@example.test' },
              quarantine: quarantineRecord({
                reason: 'spam',
                verdict: { spam: { score: 30, symbols } },
                recipient: `${'é'.repeat(400)}@example.test`,
                route: { kind: 'maildir', mailbox: 'anna@example.test' },
                sender: `${'ü'.repeat(400)}@origin.test`,
                subject: quarantineSubject(body),
              }),
            },
          ],
        });
    })();
    const sizes: number[] = [];
    let shipped = 0;
    const shipper = createShipper({
      db: wave,
      clock,
      log: silentLog,
      post: async (path, payload) => {
        const size = Buffer.byteLength(JSON.stringify(payload));
        if (path !== '/api/v1/telemetry') return { status: 204, body: null };
        sizes.push(size);
        // What the backend answers a body over its limit (server/http/validate.ts MAX_BODY_BYTES).
        if (size > 1024 * 1024) return { status: 413, body: { title: 'Payload Too Large' } };
        const batch = TelemetryBatchSchema.parse(payload);
        shipped += batch.events.length;
        return { status: 200, body: { cursor: batch.events.at(-1)?.seq ?? batch.after, applied: batch.events.length } };
      },
    });
    for (let tick = 0; tick < 20 && shipped < 1000; tick++) {
      const outcome = await shipper.shipOnce();
      assert.equal(outcome.kind, 'acked', `tick ${tick}: ${JSON.stringify(outcome)} after batches of ${sizes.join(', ')} bytes`);
    }
    await shipper.stop();
    assert.equal(shipped, 1000, 'every accepted and quarantined event shipped');
    assert.ok(sizes.length > 2, `in several batches: ${sizes.join(', ')}`);
    assert.ok(Math.max(...sizes) <= DEFAULT_MAX_BATCH_BYTES, `each under the node's budget: ${sizes.join(', ')}`);
    wave.close();
  });
});

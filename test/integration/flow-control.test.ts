// Flow control (issue 11): with delivery stalled, the reply to DATA is delayed in proportion to the backlog, then
// refused with 451 4.3.1 (counted as a 'queue-full' rejection); once delivery resumes the queue drains, replies are
// immediate again, and every acknowledged message reaches its mailbox exactly once. The stalled target is a loopback
// LMTP server that holds each message until released (a failure mode, so a fake).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DB } from '#data/db.ts';
import { createMailSystem, type MailSystem } from '#mailsystem/app.ts';
import { buildDsn } from '#mailsystem/delivery/dsn.ts';
import { createLmtpTransport } from '#mailsystem/delivery/lmtp.ts';
import { silentLog, systemClock } from '#mailsystem/deps.ts';
import { openNodeDatabase } from '#mailsystem/queue/open.ts';
import { fakeDirectory } from '../support/fake-directory.ts';
import { RawSmtp } from '../support/smtp-client.ts';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink.ts';
import { waitFor } from '../support/wait.ts';

const MAX_DELAY_MS = 1500;
let dir: string;
let db: DB;
let mx: MailSystem;
let port: number;
let lmtp: SmtpSink;
let release: () => void;
/** What the node's metrics were told: each delayed reply's delay. */
const observedDelays: number[] = [];

before(async () => {
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  lmtp = await startSmtpSink({ lmtp: true, hold: () => gate });
  dir = mkdtempSync(join(tmpdir(), 'tidings-flow-'));
  db = openNodeDatabase(join(dir, 'node.sqlite'));
  const mailbox = 'anna@example.test';
  mx = createMailSystem(
    {
      smtpHost: '127.0.0.1',
      smtpPort: 0,
      maildirRoot: join(dir, 'mail'),
      serverName: 'mx.test',
      // One delivery in hand, so every later message waits; a small band so a handful of messages crosses it.
      worker: { concurrency: { local: 4, remote: 1 }, idlePollMs: 50 },
      flow: { softDepth: 2, hardDepth: 10, softAgeMs: 60_000, hardAgeMs: 120_000, maxDelayMs: MAX_DELAY_MS, sampleMs: 0 },
    },
    {
      db,
      directory: fakeDirectory({
        domains: ['example.test'],
        addresses: { [mailbox]: [{ kind: 'lmtp', mailbox, host: '127.0.0.1', port: lmtp.port }] },
      }),
      clock: systemClock,
      log: silentLog,
      buildDsn,
      observeFlowDelay: (ms) => observedDelays.push(ms),
      transports: { lmtp: createLmtpTransport({ heloName: 'mx.test', timeoutMs: 120_000 }) },
    },
  );
  port = await mx.start();
});

after(async () => {
  release?.();
  await mx?.stop();
  db?.close();
  await lmtp?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const waiting = (): number =>
  db.prepare("SELECT count(*) FROM deliveries WHERE state = 'queued' AND lease_until IS NULL").pluck().get() as number;

/** One transaction on an open session: returns the final reply and how long it took after the end of data. */
async function send(c: RawSmtp, n: number): Promise<{ reply: string; ms: number }> {
  assert.match((await c.cmd('MAIL FROM:<sender@origin.test>')) ?? '', /^250/);
  assert.match((await c.cmd('RCPT TO:<anna@example.test>')) ?? '', /^250/);
  assert.match((await c.cmd('DATA')) ?? '', /^354/);
  const t0 = performance.now();
  c.write(`From: sender@origin.test\r\nTo: anna@example.test\r\nSubject: flow ${n}\r\nX-Flow-Id: ${n}\r\n\r\nbody ${n}\r\n.\r\n`);
  const reply = (await c.read(10_000)) ?? '(closed)';
  return { reply, ms: performance.now() - t0 };
}

test('a stalled delivery target slows DATA replies, then 451 4.3.1; after it resumes all acknowledged mail arrives once', async () => {
  const c = await RawSmtp.connect(port);
  await c.read();
  await c.cmd('EHLO client.test');
  const acked: number[] = [];
  const replies: { n: number; reply: string; ms: number; waitingBefore: number }[] = [];
  let refused: { n: number; reply: string } | null = null;
  for (let n = 1; n <= 40 && !refused; n++) {
    const waitingBefore = waiting();
    const r = await send(c, n);
    replies.push({ n, ...r, waitingBefore });
    if (r.reply.startsWith('250')) acked.push(n);
    else refused = { n, reply: r.reply };
  }
  assert.ok(refused, `no refusal in 40 messages: ${JSON.stringify(replies)}`);
  assert.match(refused.reply, /^451 4\.3\.1 /, 'past the hard limit: 451 with enhanced status 4.3.1');
  // Replies inside the band waited: the stats count them, and the client saw at least one clearly delayed reply.
  assert.ok(mx.ingress.flowStats.delayed >= 1, `delayed replies: ${JSON.stringify(mx.ingress.flowStats)}`);
  assert.equal(observedDelays.length, mx.ingress.flowStats.delayed, 'each delay reaches the metrics');
  assert.ok(observedDelays.every((ms) => ms > 0 && ms < MAX_DELAY_MS));
  const slow = replies.filter((r) => r.reply.startsWith('250') && r.ms >= MAX_DELAY_MS / 8);
  assert.ok(slow.length >= 1, `some 250 came late: ${replies.map((r) => `${r.n}:${r.waitingBefore}:${Math.round(r.ms)}`).join(' ')}`);
  // Below the soft limit nothing waited: the first replies came before any backlog.
  assert.equal(replies[0].waitingBefore, 0);
  assert.equal(mx.ingress.flowStats.refused, 1);

  // The refusal is in the event log with its own reason, and nothing was stored for it.
  await waitFor(
    () => (db.prepare("SELECT count(*) FROM events WHERE type = 'rejected' AND reason = 'queue-full'").pluck().get() as number) === 1,
    'the queue-full rejection recorded',
  );
  assert.equal(db.prepare("SELECT count(*) FROM events WHERE type = 'accepted'").pluck().get(), acked.length);

  // Delivery resumes: the queue drains, and acceptance is immediate again.
  release();
  await waitFor(() => lmtp.messages.length === acked.length, `all ${acked.length} acknowledged messages delivered`, 30_000);
  await waitFor(() => (db.prepare("SELECT count(*) FROM deliveries WHERE state = 'queued'").pluck().get() as number) === 0, 'queue empty');
  const before = { ...mx.ingress.flowStats };
  const again = await send(c, 1000);
  assert.match(again.reply, /^250 /, 'accepted again after the drain');
  assert.deepEqual(mx.ingress.flowStats, before, 'neither delayed nor refused');
  c.write('QUIT\r\n');
  c.close();
  await waitFor(() => lmtp.messages.length === acked.length + 1, 'the message after the drain delivered too');

  // Nothing acknowledged lost, nothing twice, the refused one never stored.
  const ids = lmtp.messages.map((m) => Number(/X-Flow-Id: (\d+)/.exec(m.data.toString())?.[1]));
  assert.deepEqual(
    [...ids].sort((a, b) => a - b),
    [...acked, 1000].sort((a, b) => a - b),
  );
  assert.ok(!ids.includes(refused.n));
});

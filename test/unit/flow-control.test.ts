// Flow control's decision and the backlog it reads: only deliveries the worker has not started and that are due count.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backlogReader, decideFlow, type FlowLimits } from '#mailsystem/queue/flow-control.ts';
import { openNodeDatabase } from '#mailsystem/queue/open.ts';
import { QueueStore } from '#mailsystem/queue/store.ts';

const tmp = mkdtempSync(join(tmpdir(), 'tidings-flowunit-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const limits: FlowLimits = { softDepth: 100, hardDepth: 300, softAgeMs: 1000, hardAgeMs: 5000, maxDelayMs: 1000 };

test('below both soft limits: accepted at once; in the band: delayed in proportion; at a hard limit: refused', () => {
  assert.deepEqual(decideFlow({ depth: 99, oldestWaitingMs: 999 }, limits), { kind: 'accept', delayMs: 0 });
  assert.deepEqual(decideFlow({ depth: 100, oldestWaitingMs: 0 }, limits), { kind: 'accept', delayMs: 0 });
  assert.deepEqual(decideFlow({ depth: 200, oldestWaitingMs: 0 }, limits), { kind: 'accept', delayMs: 500 });
  assert.deepEqual(decideFlow({ depth: 0, oldestWaitingMs: 4000 }, limits), { kind: 'accept', delayMs: 750 });
  // The worse of the two readings decides.
  assert.deepEqual(decideFlow({ depth: 250, oldestWaitingMs: 2000 }, limits), { kind: 'accept', delayMs: 750 });
  assert.equal(decideFlow({ depth: 300, oldestWaitingMs: 0 }, limits).kind, 'refuse');
  assert.equal(decideFlow({ depth: 0, oldestWaitingMs: 5000 }, limits).kind, 'refuse');
  assert.deepEqual(decideFlow({ depth: 299, oldestWaitingMs: 0 }, { ...limits, maxDelayMs: 0 }), { kind: 'accept', delayMs: 0 });
});

test('the backlog counts due deliveries without a live lease, and its age is the oldest of them', () => {
  const db = openNodeDatabase(join(tmp, 'q.sqlite'));
  const store = new QueueStore(db);
  const accept = (id: string, at: number, n: number): void =>
    store.insertAccepted({
      id,
      receivedAt: at,
      envelopeFrom: 's@r.test',
      clientIp: '192.0.2.1',
      helo: 'c.test',
      body: Buffer.from('Subject: x\r\n\r\nx\r\n'),
      deliveries: Array.from({ length: n }, (_, i) => ({
        recipient: `u${i}@example.test`,
        route: { kind: 'maildir', mailbox: `u${i}@example.test` },
      })),
    });
  let now = 10_000;
  const read = backlogReader(db, () => now, 0);
  assert.deepEqual(read(), { depth: 0, oldestWaitingMs: 0 });
  accept('a', 9_000, 3);
  accept('b', 9_500, 2);
  assert.deepEqual(read(), { depth: 5, oldestWaitingMs: 1000 });
  // In the worker's hand: not waiting any more.
  const claimed = store.claimDue('w', now, 60_000, 2);
  assert.deepEqual(read(), { depth: 3, oldestWaitingMs: 1000 });
  // Deferred to a later retry: not due, not counted; due again later, counted from its retry time.
  store.recordDeferred(claimed[0], now, now + 30_000, '4.0.0 later');
  assert.deepEqual(read(), { depth: 3, oldestWaitingMs: 1000 });
  now += 31_000;
  const r = read();
  assert.equal(r.depth, 4 + 0, 'the deferred one is due again; the other claim still holds its lease');
  assert.equal(r.oldestWaitingMs, 32_000);
  db.close();
});

test('a reading serves the calls within its interval, then is taken again', () => {
  const db = openNodeDatabase(join(tmp, 'q2.sqlite'));
  const store = new QueueStore(db);
  let now = 1000;
  const read = backlogReader(db, () => now, 100);
  assert.equal(read().depth, 0);
  store.insertAccepted({
    id: 'm',
    receivedAt: now,
    envelopeFrom: '',
    clientIp: '',
    helo: '',
    body: Buffer.from('x'),
    deliveries: [{ recipient: 'u@example.test', route: { kind: 'maildir', mailbox: 'u@example.test' } }],
  });
  now += 99;
  assert.equal(read().depth, 0, 'within 100 ms: the earlier reading');
  now += 1;
  assert.equal(read().depth, 1);
  db.close();
});

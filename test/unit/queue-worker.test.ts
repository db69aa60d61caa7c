// Queue and worker against a real SQLite file: group commit, leases, backoff, expiry DSNs, events.
import { after, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { MIGRATIONS, openDatabase, type DB } from '#data/db.ts';
import type { Route } from '#mailsystem/config/directory.ts';
import type { DeliveryJob, DeliveryOutcome } from '#mailsystem/delivery/transport.ts';
import { DeliveryWorker, type DsnRequest } from '#mailsystem/delivery/worker.ts';
import { DEFAULT_RETRY } from '#mailsystem/queue/backoff.ts';
import { silentLog } from '#mailsystem/deps.ts';
import { GroupCommitter } from '#mailsystem/queue/group-commit.ts';
import { QueueStore, type AcceptedMessage } from '#mailsystem/queue/store.ts';
import { waitFor } from '../support/wait.ts';

const MIN = 60_000;
const tmp = mkdtempSync(join(tmpdir(), 'tidings-queue-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

let n = 0;
function fresh(): { db: DB; store: QueueStore; committer: GroupCommitter } {
  const db = openDatabase(join(tmp, `q${n++}.sqlite`), { migrationsDir: MIGRATIONS.node, synchronous: 'FULL' });
  return { db, store: new QueueStore(db), committer: new GroupCommitter(db) };
}

const msg = (id: string, from: string, routes: Route[], at: number, isSpam = false): AcceptedMessage => ({
  id,
  receivedAt: at,
  envelopeFrom: from,
  clientIp: '192.0.2.1',
  helo: 'c.test',
  isSpam,
  body: Buffer.from(`Subject: ${id}\r\n\r\nbody\r\n`),
  deliveries: routes.map((route) => ({ recipient: 'rcpt@example.test', route })),
});

describe('group commit', () => {
  it('commits many submissions of one turn in one transaction, each resolving after COMMIT', async () => {
    const { db, store, committer } = fresh();
    const all = Array.from({ length: 50 }, (_, i) =>
      committer.submit(() => store.insertAccepted(msg(`m${i}`, 's@r.test', [{ kind: 'maildir', mailbox: 'a@example.test' }], 1))),
    );
    assert.equal(db.prepare('SELECT count(*) FROM messages').pluck().get(), 0, 'nothing is written before the batch runs');
    await Promise.all(all);
    assert.deepEqual(committer.stats, { batches: 1, items: 50, walSyncs: 0 }, 'FULL: SQLite synced in COMMIT, the committer adds none');
    assert.equal(db.prepare('SELECT count(*) FROM messages').pluck().get(), 50);
    const seqs = db.prepare("SELECT seq FROM events WHERE type = 'accepted' ORDER BY seq").pluck().all() as number[];
    assert.deepEqual(
      seqs,
      [...seqs].sort((a, b) => a - b),
    );
    assert.equal(new Set(seqs).size, 50);
  });

  it('fails one bad item alone, and the whole batch when the disk is full', async () => {
    const { db, store, committer } = fresh();
    const dup = msg('same', 's@r.test', [{ kind: 'maildir', mailbox: 'a@example.test' }], 1);
    const results = await Promise.allSettled([
      committer.submit(() => store.insertAccepted(dup)),
      committer.submit(() => store.insertAccepted(dup)),
    ]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'rejected'],
    );
    // SQLITE_FULL: no page may be added, so every message of the batch must be refused.
    db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true }) as number}`);
    const big = (id: string): AcceptedMessage => ({
      ...msg(id, 's@r.test', [{ kind: 'maildir', mailbox: 'a@example.test' }], 1),
      body: Buffer.alloc(64 * 1024, 0x61),
    });
    const full = await Promise.allSettled([
      committer.submit(() => store.insertAccepted(big('f1'))),
      committer.submit(() => store.insertAccepted(big('f2'))),
    ]);
    assert.deepEqual(
      full.map((r) => r.status),
      ['rejected', 'rejected'],
    );
    assert.equal(db.prepare("SELECT count(*) FROM messages WHERE id IN ('f1', 'f2')").pluck().get(), 0);
  });
});

describe('delivery worker', () => {
  let clock: { t: number; now(): number };
  let outcomes: DeliveryOutcome[];
  let jobs: DeliveryJob[];
  let dsns: DsnRequest[];
  beforeEach(() => {
    clock = {
      t: 1_000_000,
      now() {
        return this.t;
      },
    };
    outcomes = [];
    jobs = [];
    dsns = [];
  });

  function worker(q: ReturnType<typeof fresh>, retry = DEFAULT_RETRY): DeliveryWorker {
    return new DeliveryWorker(
      { owner: 'w1', leaseMs: 10 * MIN, concurrency: { local: 4, remote: 4 }, idlePollMs: 20, retry, reportingMta: 'mx.test' },
      {
        store: q.store,
        committer: q.committer,
        clock,
        log: silentLog,
        random: () => 0,
        newId: (t) => `dsn${t}`,
        routesForSender: (a) => [{ kind: 'forward', to: a }],
        buildDsn: (req) => {
          dsns.push(req);
          return Buffer.from(`DSN ${req.action} ${req.recipient}\r\n`);
        },
        transports: {
          maildir: {
            deliver: async (job) => {
              jobs.push(job);
              return outcomes.shift() ?? { kind: 'delivered', response: '250 ok' };
            },
          },
          forward: {
            deliver: async (job) => {
              jobs.push(job);
              return { kind: 'delivered', response: '250 forwarded' };
            },
          },
        },
      },
    );
  }
  const rows = (db: DB, sql: string): unknown[] => db.prepare(sql).all();
  const state = (db: DB, id: string): string => db.prepare('SELECT state FROM deliveries WHERE message_id = ?').pluck().get(id) as string;

  it('delivers, records the accept-to-delivery latency, and drops the body once final', async () => {
    const q = fresh();
    await q.committer.submit(() =>
      q.store.insertAccepted(msg('a', 's@r.test', [{ kind: 'maildir', mailbox: 'a@example.test' }], clock.t - 250)),
    );
    const w = worker(q);
    w.start();
    await waitFor(() => state(q.db, 'a') === 'delivered', 'delivered');
    await w.stop();
    assert.deepEqual(rows(q.db, "SELECT route_kind, latency_ms FROM events WHERE type = 'delivered'"), [
      { route_kind: 'maildir', latency_ms: 250 },
    ]);
    assert.equal(q.db.prepare('SELECT count(*) FROM message_bodies').pluck().get(), 0);
    assert.equal(q.store.messageBody('a').length, 0);
    assert.equal(jobs[0].attempt, 1);
  });

  it('defers with backoff, retries when due, expires after max age with a DSN to the sender', async () => {
    const q = fresh();
    outcomes = Array(20).fill({ kind: 'deferred', response: '451 4.3.0 try later' });
    await q.committer.submit(() =>
      q.store.insertAccepted(msg('b', 'sender@remote.test', [{ kind: 'maildir', mailbox: 'a@example.test' }], clock.t)),
    );
    const retry = { ...DEFAULT_RETRY, maxAgeMs: 10 * MIN, delayedDsnAfterMs: 0 };
    const w = worker(q, retry);
    w.start();
    await waitFor(
      () => jobs.length === 1 && (q.db.prepare("SELECT count(*) FROM events WHERE type = 'deferred'").pluck().get() as number) === 1,
      'first deferral',
    );
    assert.equal(q.db.prepare("SELECT next_attempt_at FROM deliveries WHERE message_id = 'b'").pluck().get(), clock.t + MIN);
    // Every claim the worker makes, with the time it claimed at and what it got.
    const claims: { at: number; got: number }[] = [];
    const claimDue = q.store.claimDue.bind(q.store);
    q.store.claimDue = (...args: Parameters<QueueStore['claimDue']>) => {
      const got = claimDue(...args);
      claims.push({ at: args[1], got: got.length });
      return got;
    };
    clock.t += MIN - 1;
    // A claim made one millisecond before the retry is due must come back empty.
    await waitFor(() => claims.some((c) => c.at === clock.t), 'a claim at one millisecond before the retry is due');
    assert.deepEqual(
      claims.filter((c) => c.at === clock.t && c.got > 0),
      [],
      'nothing claimed before it is due',
    );
    assert.equal(jobs.length, 1, 'not retried before it is due');
    clock.t += 1;
    await waitFor(() => jobs.length === 2, 'second attempt');
    assert.equal(jobs[1].attempt, 2);
    clock.t += 10 * MIN;
    await waitFor(() => state(q.db, 'b') === 'bounced', 'expired');
    await waitFor(() => jobs.some((j) => j.route.kind === 'forward'), 'DSN forwarded');
    await w.stop();
    assert.equal(dsns.length, 1);
    assert.equal(dsns[0].action, 'failed');
    assert.equal(dsns[0].expired, true, 'given up on age, after temporary failures: reported as 5.4.7');
    assert.equal(dsns[0].envelopeFrom, 'sender@remote.test');
    assert.match(dsns[0].original.toString(), /Subject: b/);
    const dsnMsg = q.db.prepare("SELECT envelope_from FROM messages WHERE id LIKE 'dsn%'").get() as { envelope_from: string };
    assert.equal(dsnMsg.envelope_from, '', 'a DSN is sent from the null sender');
    assert.deepEqual(rows(q.db, "SELECT reason FROM events WHERE type = 'bounced'"), [{ reason: 'expired' }]);
  });

  it('bounces a permanent failure at once; no DSN to the null sender or for spam', async () => {
    const q = fresh();
    outcomes = [
      { kind: 'failed', response: '550 5.1.1 gone' },
      { kind: 'failed', response: '550 5.1.1 gone' },
      { kind: 'failed', response: '550 5.1.1 gone' },
    ];
    await q.committer.submit(() => {
      q.store.insertAccepted(msg('c', 'sender@remote.test', [{ kind: 'maildir', mailbox: 'a@example.test' }], clock.t));
      q.store.insertAccepted(msg('d', '', [{ kind: 'maildir', mailbox: 'a@example.test' }], clock.t));
      q.store.insertAccepted(msg('e', 'spammer@remote.test', [{ kind: 'maildir', mailbox: 'a@example.test' }], clock.t, true));
    });
    const w = worker(q);
    w.start();
    await waitFor(() => ['c', 'd', 'e'].every((id) => state(q.db, id) === 'bounced'), 'all bounced');
    await w.stop();
    assert.deepEqual(
      dsns.map((d) => d.envelopeFrom),
      ['sender@remote.test'],
    );
    assert.equal(dsns[0].expired, false, 'a permanent reply is not an expiry');
  });

  it('sends one delayed DSN after the configured time and keeps retrying', async () => {
    const q = fresh();
    outcomes = Array(5).fill({ kind: 'deferred', response: '451 4.4.1 no answer' });
    await q.committer.submit(() =>
      q.store.insertAccepted(msg('f', 'sender@remote.test', [{ kind: 'maildir', mailbox: 'a@example.test' }], clock.t)),
    );
    const w = worker(q, { ...DEFAULT_RETRY, delayedDsnAfterMs: 2 * MIN });
    const deferrals = (): number => q.db.prepare("SELECT count(*) FROM events WHERE type = 'deferred'").pluck().get() as number;
    w.start();
    await waitFor(() => deferrals() === 1, 'first attempt recorded');
    for (let i = 0; i < 3; i++) {
      clock.t += 4 * MIN; // retries after 1, 2 and 4 minutes
      await waitFor(() => deferrals() === i + 2, `attempt ${i + 2} recorded`);
    }
    await w.stop();
    assert.deepEqual(
      dsns.map((d) => d.action),
      ['delayed'],
    );
    const arrived = q.db.prepare("SELECT created_at FROM deliveries WHERE message_id = 'f'").pluck().get() as number;
    assert.equal(dsns[0].willRetryUntil, arrived + DEFAULT_RETRY.maxAgeMs, 'the notice says until when we keep trying');
    assert.equal(state(q.db, 'f'), 'queued');
  });

  it('commits a remote 250 (LMTP, forward, legacy) at once: durable before the event loop turns again', async (t) => {
    // Dovecot or a provider has stored the message once it answers 250; a crash before our commit
    // redelivers it. So that outcome must not wait for the next group-commit batch.
    const q = fresh();
    await q.committer.submit(() =>
      q.store.insertAccepted(msg('r', 's@r.test', [{ kind: 'lmtp', mailbox: 'a@example.test', host: '127.0.0.1', port: 24 }], clock.t)),
    );
    let reply: ((o: DeliveryOutcome) => void) | null = null;
    const asked = new Promise<void>((called) => {
      const w = new DeliveryWorker(
        {
          owner: 'w1',
          leaseMs: 10 * MIN,
          concurrency: { local: 4, remote: 4 },
          idlePollMs: 20,
          retry: DEFAULT_RETRY,
          reportingMta: 'mx.test',
        },
        {
          store: q.store,
          committer: q.committer,
          clock,
          log: silentLog,
          newId: (t) => `dsn${t}`,
          routesForSender: () => [],
          buildDsn: () => Buffer.alloc(0),
          transports: {
            lmtp: {
              deliver: () =>
                new Promise<DeliveryOutcome>((resolve) => {
                  reply = resolve;
                  called();
                }),
            },
          },
        },
      );
      w.start();
      t.after(() => w.stop());
    });
    await asked;
    // A second connection sees what a process restarted after SIGKILL would see: committed rows only.
    const reader = new Database(q.db.name, { readonly: true });
    t.after(() => reader.close());
    const onDisk = (): string => reader.prepare("SELECT state FROM deliveries WHERE message_id = 'r'").pluck().get() as string;
    const atNextTurn = await new Promise<string>((resolve) => {
      reply!({ kind: 'delivered', response: '250 2.0.0 <a@example.test> saved' });
      // The earliest moment the process could die after the reply's own callback: the next turn of the loop.
      setImmediate(() => resolve(onDisk()));
    });
    assert.equal(atNextTurn, 'delivered', 'the 250 must be committed before anything else runs');
  });

  it('leaves a leased delivery alone until the lease expires, then another worker takes it', () => {
    const q = fresh();
    q.db.transaction(() => q.store.insertAccepted(msg('g', 's@r.test', [{ kind: 'maildir', mailbox: 'a@example.test' }], 0)))();
    assert.equal(q.store.claimDue('crashed', 1000, 5 * MIN, 10).length, 1);
    assert.equal(q.store.claimDue('other', 1000 + 5 * MIN - 1, 5 * MIN, 10).length, 0);
    const taken = q.store.claimDue('other', 1000 + 5 * MIN, 5 * MIN, 10);
    assert.equal(taken.length, 1);
    assert.equal(taken[0].attempts, 2, 'the lost attempt still counts, so Maildir checks for an earlier copy');
    assert.equal(
      q.store.releaseLeasesOfGone(() => false),
      1,
    );
  });

  it('at start-up frees only the leases of owners that are gone: a process still running keeps its deliveries', () => {
    const q = fresh();
    q.db.transaction(() => {
      q.store.insertAccepted(msg('h', 's@r.test', [{ kind: 'maildir', mailbox: 'a@example.test' }], 0));
      q.store.insertAccepted(msg('i', 's@r.test', [{ kind: 'maildir', mailbox: 'b@example.test' }], 0));
    })();
    assert.equal(q.store.claimDue('old-process', 1000, 5 * MIN, 1).length, 1);
    assert.equal(q.store.claimDue('crashed', 1000, 5 * MIN, 1).length, 1);
    assert.equal(
      q.store.releaseLeasesOfGone((owner) => owner === 'old-process'),
      1,
    );
    const taken = q.store.claimDue('new-process', 1001, 5 * MIN, 10);
    assert.equal(taken.length, 1, "the new process takes the crashed run's delivery, not the running one's");
    assert.equal(taken[0].messageId, 'i');
  });
});

// Per-copy dispositions in the queue (issue 12): one stored body; a quarantined copy is kept back with its reason and
// keeps the body; a tagged copy is delivered with its own headers and subject prefix; the others get the bytes as is.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMailSystem } from '#mailsystem/app.ts';
import type { DeliveryJob } from '#mailsystem/delivery/transport.ts';
import { renderCopy } from '#mailsystem/delivery/render.ts';
import { DeliveryWorker } from '#mailsystem/delivery/worker.ts';
import { DEFAULT_RETRY } from '#mailsystem/queue/backoff.ts';
import { silentLog, systemClock } from '#mailsystem/deps.ts';
import { GroupCommitter } from '#mailsystem/queue/group-commit.ts';
import { openNodeDatabase } from '#mailsystem/queue/open.ts';
import { quarantineRecord } from '#mailsystem/quarantine/entry.ts';
import { type ObservedEvent, QueueStore } from '#mailsystem/queue/store.ts';
import { waitFor } from '../support/wait.ts';

const tmp = mkdtempSync(join(tmpdir(), 'tidings-dispositions-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const body = Buffer.from(
  'Received: from x\r\nSubject: Cheap\r\n =?utf-8?q?stuff?=\r\nFrom: a@b.test\r\n\r\nSubject: not a header\r\n\xe4\r\n',
  'latin1',
);

describe('renderCopy', () => {
  it('returns the stored bytes themselves when nothing is added', () => {
    assert.equal(renderCopy(body, null), body);
    assert.equal(renderCopy(body, { headers: [], subjectPrefix: null }), body);
  });

  it('prepends the headers and prefixes the first Subject of the header block, leaving every other byte', () => {
    const out = renderCopy(body, { headers: [['X-Spam-Flag', 'YES']], subjectPrefix: '[SPAM] ' });
    assert.equal(
      out.toString('latin1'),
      'X-Spam-Flag: YES\r\nReceived: from x\r\nSubject: [SPAM] Cheap\r\n =?utf-8?q?stuff?=\r\nFrom: a@b.test\r\n\r\nSubject: not a header\r\n\xe4\r\n',
    );
  });

  it('adds a Subject when the message has none, and reads a header block with bare LF ends', () => {
    const lf = Buffer.from('From: a@b.test\n\nSubject: body\n');
    assert.equal(
      renderCopy(lf, { headers: [], subjectPrefix: '[SPAM] ' }).toString(),
      'Subject: [SPAM]\r\nFrom: a@b.test\n\nSubject: body\n',
    );
    const lower = Buffer.from('subject:hi\r\n\r\nx');
    assert.equal(renderCopy(lower, { headers: [], subjectPrefix: '*** ' }).toString(), 'subject:*** hi\r\n\r\nx');
  });
});

describe('queue', () => {
  it('keeps a quarantined copy back with its reason and the body, and delivers the tagged copy with its headers', async () => {
    const db = openNodeDatabase(join(tmp, 'q.sqlite'));
    const seen: ObservedEvent[] = [];
    const store = new QueueStore(db, (e) => seen.push(e));
    const committer = new GroupCommitter(db);
    const jobs: DeliveryJob[] = [];
    let t = 1000;
    await committer.submit(() =>
      store.insertAccepted({
        id: 'm1',
        receivedAt: t,
        envelopeFrom: 's@r.test',
        clientIp: '192.0.2.1',
        helo: 'c.test',
        body,
        isSpam: true,
        deliveries: [
          {
            recipient: 'anna@example.test',
            route: { kind: 'maildir', mailbox: 'anna@example.test' },
            added: { headers: [['X-Spam-Flag', 'YES']], subjectPrefix: '[SPAM] ' },
          },
          { recipient: 'bob@example.test', route: { kind: 'maildir', mailbox: 'bob@example.test' } },
          {
            recipient: 'anna@example.test',
            route: { kind: 'forward', to: 'anna@elsewhere.example' },
            quarantine: quarantineRecord({
              reason: 'spam',
              verdict: { score: 15, symbols: ['GTUBE'] },
              recipient: 'anna@example.test',
              route: { kind: 'forward', to: 'anna@elsewhere.example' },
              sender: 's@r.test',
              subject: null,
            }),
          },
        ],
      }),
    );
    assert.deepEqual(db.prepare('SELECT route_kind, state FROM deliveries ORDER BY id').all(), [
      { route_kind: 'maildir', state: 'queued' },
      { route_kind: 'maildir', state: 'queued' },
      { route_kind: 'forward', state: 'quarantined' },
    ]);
    assert.deepEqual(db.prepare('SELECT reason, json(verdict) AS verdict FROM quarantine').all(), [
      { reason: 'spam', verdict: '{"score":15,"symbols":["GTUBE"]}' },
    ]);
    assert.deepEqual(
      db.prepare('SELECT type, reason, route_kind FROM events ORDER BY seq').all(),
      [
        { type: 'accepted', reason: null, route_kind: null },
        { type: 'quarantined', reason: 'spam', route_kind: 'forward' },
      ],
      'accepted (3 deliveries), then the kept-back copy as an outcome of its own',
    );
    assert.deepEqual(seen.at(-1), { type: 'quarantined', route: 'forward', reason: 'spam' });

    const worker = new DeliveryWorker(
      { owner: 'w', leaseMs: 60_000, concurrency: { local: 4, remote: 4 }, idlePollMs: 20, retry: DEFAULT_RETRY, reportingMta: 'mx.test' },
      {
        store,
        committer,
        clock: { now: () => t },
        log: silentLog,
        newId: (n) => `dsn${n}`,
        routesForSender: () => [],
        buildDsn: () => Buffer.alloc(0),
        transports: {
          maildir: {
            deliver: async (job) => {
              jobs.push(job);
              return { kind: 'delivered', response: '250 ok' };
            },
          },
          forward: {
            deliver: async () => {
              throw new Error('a quarantined copy must never be delivered');
            },
          },
        },
      },
    );
    t += 10;
    worker.start();
    await waitFor(() => jobs.length === 2, 'both mailbox copies delivered');
    await worker.stop();
    const byRcpt = new Map(jobs.map((j) => [j.recipient, j.message.toString('latin1')]));
    assert.match(byRcpt.get('anna@example.test') ?? '', /^X-Spam-Flag: YES\r\nReceived: from x\r\nSubject: \[SPAM\] Cheap/);
    assert.equal(byRcpt.get('bob@example.test'), body.toString('latin1'), 'the untagged copy is the stored bytes');
    // Both deliveries are final, but the quarantined copy may still be released: the body stays.
    assert.equal(store.messageBody('m1').length, body.length);
    await committer.close();
    db.close();
  });
});

describe('quarantine retention', () => {
  it('deletes a quarantined copy: record gone, delivery discarded, body dropped once no copy needs it', async () => {
    const db = openNodeDatabase(join(tmp, 'q2.sqlite'));
    const store = new QueueStore(db);
    const keep = (id: string, at: number, alsoQueued: boolean): void =>
      store.insertAccepted({
        id,
        receivedAt: at,
        envelopeFrom: 's@r.test',
        clientIp: '192.0.2.1',
        helo: 'c.test',
        body,
        deliveries: [
          {
            recipient: 'a@example.test',
            route: { kind: 'maildir', mailbox: 'a@example.test' },
            quarantine: quarantineRecord({
              reason: 'virus',
              verdict: { name: 'X' },
              recipient: 'a@example.test',
              route: { kind: 'maildir', mailbox: 'a@example.test' },
              sender: '',
              subject: null,
            }),
          },
          ...(alsoQueued ? [{ recipient: 'b@example.test', route: { kind: 'maildir' as const, mailbox: 'b@example.test' } }] : []),
        ],
      });
    keep('old', 1_000, false);
    keep('old-shared', 1_500, true);
    keep('new', 50_000, false);
    const pruned = store.pruneQuarantine(10_000, 60_000, 500);
    assert.equal(pruned, 2);
    assert.deepEqual(db.prepare("SELECT message_id, state FROM deliveries WHERE recipient = 'a@example.test' ORDER BY id").all(), [
      { message_id: 'old', state: 'discarded' },
      { message_id: 'old-shared', state: 'discarded' },
      { message_id: 'new', state: 'quarantined' },
    ]);
    assert.deepEqual(db.prepare('SELECT count(*) AS n FROM quarantine').get(), { n: 1 });
    assert.equal(store.messageBody('old').length, 0, 'no copy needs the body any more');
    assert.equal(store.messageBody('old-shared').length, body.length, 'a queued copy still needs it');
    assert.equal(store.messageBody('new').length, body.length);
    assert.equal(store.deleteQuarantined(999, 60_000, { reason: 'staff', actionId: 1 }), false, 'nothing to delete');
    assert.equal(
      db.prepare("SELECT count(*) FROM events WHERE type = 'quarantined'").pluck().get(),
      3,
      'deleting adds no outcome: each copy was counted when it was quarantined',
    );
    db.close();
  });

  it('the node prunes past retention when it starts (and then hourly)', async () => {
    const db = openNodeDatabase(join(tmp, 'q3.sqlite'));
    const old = Date.now() - 10 * 86_400_000;
    new QueueStore(db).insertAccepted({
      id: 'stale',
      receivedAt: old,
      envelopeFrom: '',
      clientIp: '',
      helo: '',
      body,
      deliveries: [
        {
          recipient: 'a@example.test',
          route: { kind: 'maildir', mailbox: 'a@example.test' },
          quarantine: quarantineRecord({
            reason: 'spam',
            verdict: {},
            recipient: 'a@example.test',
            route: { kind: 'maildir', mailbox: 'a@example.test' },
            sender: '',
            subject: null,
          }),
        },
      ],
    });
    const mx = createMailSystem(
      { smtpHost: '127.0.0.1', smtpPort: 0, maildirRoot: join(tmp, 'mail3'), serverName: 'mx.test', quarantineRetentionMs: 7 * 86_400_000 },
      {
        db,
        directory: { resolve: () => ({ status: 'not-hosted' }), isHostedDomain: () => false },
        clock: systemClock,
        log: silentLog,
        buildDsn: () => Buffer.alloc(0),
      },
    );
    await mx.start();
    await waitFor(() => db.prepare('SELECT count(*) FROM quarantine').pluck().get() === 0, 'the stale copy pruned at start');
    await mx.stop();
    db.close();
  });
});

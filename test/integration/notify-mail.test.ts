// Subscriber mail (issue 14), in process against a loopback relay (smtp-server): the fan-out makes one message per
// event and matching, confirmed, enabled subscriber; the sender checks the subscription again at send time, retries
// while the relay is down, and disables a subscriber after permanent refusals in a row.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import pino from 'pino';
import type { NotifyPayload } from '#data/contracts/notify.ts';
import type { DB } from '#data/db.ts';
import { createChangeCounter } from '#server/deps.ts';
import { subscriberLinks } from '#server/domain/subscription-links.ts';
import { startNotifySender, type NotifySenderOptions } from '#server/jobs/notify-sender.ts';
import { recordNotifyEvent } from '#server/store/notify.ts';
import { openBackendStore } from '#server/store/open.ts';
import { addSubscriber, header, received, sectionId } from '../support/notify-subscribers.ts';
import { startSmtpSink } from '../support/smtp-sink.ts';
import { waitFor } from '../support/wait.ts';

const PUBLIC = 'https://status.example.org';
const SECRET = 'a'.repeat(64);
const log = pino({ level: 'silent' });

function setup() {
  const db = openBackendStore(':memory:');
  return {
    db,
    email: sectionId(db, 'email'),
    other: (db.prepare("SELECT id FROM sections WHERE slug <> 'email'").get() as { id: number }).id,
  };
}

function comment(db: DB, section: number, at = new Date().toISOString()): number {
  const payload: NotifyPayload = {
    subject: 'FS#2733 Rework of the inbound mail system: new comment',
    text: 'A new comment <b>not markup</b>',
    html: '<p>A new comment &lt;b&gt;</p>',
    url: `${PUBLIC}/task/2733`,
    task: { id: 2733, summary: 'Rework', status: 'In progress', percent: 50, closed: false },
    section: { slug: 'email', name: 'Email' },
    changes: [],
  };
  return recordNotifyEvent(db, { kind: 'comment', taskId: 2733, sectionId: section, at, payload });
}

function sender(db: DB, port: number | null, o: Partial<NotifySenderOptions> = {}) {
  return startNotifySender(
    { db, clock: () => new Date(), log, changes: createChangeCounter() },
    {
      smtpUrl: port === null ? null : `smtp://127.0.0.1:${port}`,
      from: 'Tidings <noreply@status.example.org>',
      host: 'status.example.org',
      links: (id) => subscriberLinks(PUBLIC, SECRET, id),
      pollMs: 50,
      ...o,
    },
  );
}

const states = (db: DB) =>
  db.prepare('SELECT state, count(*) AS n FROM notify_mail GROUP BY state').all() as { state: string; n: number }[];
const queued = (db: DB) => (db.prepare("SELECT count(*) AS n FROM notify_mail WHERE state = 'queued'").get() as { n: number }).n;

test('one message per event and matching subscriber: confirmed before the event, enabled, however many follows match', async () => {
  const { db, email, other } = setup();
  const confirmed = new Date(Date.now() - 60_000).toISOString();
  const a = addSubscriber(db, 'a@example.net', [{ scope: 'section', sectionId: email, confirmedAt: confirmed }]);
  const b = addSubscriber(db, 'b@example.net', [
    { scope: 'all', confirmedAt: confirmed },
    { scope: 'section', sectionId: email, confirmedAt: confirmed },
    { scope: 'task', taskId: 2733, confirmedAt: confirmed },
  ]);
  const g = addSubscriber(db, 'g@example.net', [{ scope: 'task', taskId: 2733, confirmedAt: confirmed }]);
  addSubscriber(db, 'unconfirmed@example.net', [{ scope: 'section', sectionId: email, confirmedAt: null }]);
  addSubscriber(db, 'disabled@example.net', [{ scope: 'all', confirmedAt: confirmed }], { disabled: true });
  addSubscriber(db, 'later@example.net', [
    { scope: 'section', sectionId: email, confirmedAt: new Date(Date.now() + 60_000).toISOString() },
  ]);
  addSubscriber(db, 'other@example.net', [{ scope: 'section', sectionId: other, confirmedAt: confirmed }]);
  const event = comment(db, email);
  const sink = await startSmtpSink({ starttls: false });
  const s = sender(db, sink.port);
  try {
    await sink.waitFor(3);
    await waitFor(() => queued(db) === 0, 'every row sent');
  } finally {
    await s.stop();
    await sink.close();
  }
  assert.deepEqual(states(db), [{ state: 'sent', n: 3 }]);
  const got = received(sink.messages).sort((x, y) => x.to.localeCompare(y.to));
  assert.deepEqual(
    got.map((r) => [r.to, r.messageId, r.event]),
    [
      ['a@example.net', `<notify.${event}.${a}@status.example.org>`, event],
      ['b@example.net', `<notify.${event}.${b}@status.example.org>`, event],
      ['g@example.net', `<notify.${event}.${g}@status.example.org>`, event],
    ],
  );
  const m = sink.messages.find((x) => x.to[0] === 'a@example.net')!;
  const links = subscriberLinks(PUBLIC, SECRET, a);
  assert.equal(header(m.data, 'List-Unsubscribe'), `<${links.unsubscribeUrl}>`);
  assert.equal(header(m.data, 'List-Unsubscribe-Post'), 'List-Unsubscribe=One-Click');
  assert.equal(header(m.data, 'Subject'), 'FS#2733 Rework of the inbound mail system: new comment');
  assert.match(header(m.data, 'Content-Type') ?? '', /multipart\/alternative/);
  const body = m.data.toString('utf8');
  assert.match(body, /text\/plain/);
  assert.match(body, /text\/html/);
  assert.ok(body.includes(`${PUBLIC}/task/2733`), 'the task link');
  assert.equal(m.from, 'noreply@status.example.org');
  // A row in the database was answered by the relay's 250, kept with it.
  const row = db.prepare('SELECT last_error, sent_at FROM notify_mail WHERE subscriber_id = ?').get(a) as {
    last_error: string;
    sent_at: string;
  };
  assert.match(row.last_error, /^250/);
  assert.ok(row.sent_at);
});

test('permanent refusals (5xx) fail the row and disable the subscriber at the third in a row; a success resets the run', async () => {
  const { db, email } = setup();
  const at = new Date(Date.now() - 60_000).toISOString();
  const bad = addSubscriber(db, 'bad@example.net', [{ scope: 'section', sectionId: email, confirmedAt: at }]);
  const flaky = addSubscriber(db, 'flaky@example.net', [{ scope: 'section', sectionId: email, confirmedAt: at }]);
  addSubscriber(db, 'good@example.net', [{ scope: 'section', sectionId: email, confirmedAt: at }]);
  let refuseFlaky = true;
  const sink = await startSmtpSink({
    starttls: false,
    refuseRcpt: (addr) =>
      addr === 'bad@example.net' || (addr === 'flaky@example.net' && refuseFlaky) ? [550, '5.1.1 no such user'] : null,
  });
  const s = sender(db, sink.port, { failureThreshold: 3 });
  const failures = (id: number) =>
    db.prepare('SELECT failures, disabled_at FROM subscribers WHERE id = ?').get(id) as { failures: number; disabled_at: string | null };
  try {
    for (let i = 1; i <= 3; i++) {
      if (i === 3) refuseFlaky = false;
      comment(db, email);
      await sink.waitFor(i === 3 ? 4 : i);
      await waitFor(() => queued(db) === 0, `event ${i} done`);
    }
    assert.equal(failures(bad).failures, 3);
    assert.ok(failures(bad).disabled_at, 'disabled at the third permanent failure');
    assert.deepEqual(failures(flaky), { failures: 0, disabled_at: null }, 'two failures, then a success: the run ends');
    const err = db.prepare("SELECT last_error FROM notify_mail WHERE subscriber_id = ? AND state = 'failed' LIMIT 1").get(bad) as {
      last_error: string;
    };
    assert.match(err.last_error, /RCPT TO: 550 5\.1\.1 no such user/);
    // A disabled subscriber gets no row at all for later events.
    const fourth = comment(db, email);
    await sink.waitFor(6);
    await waitFor(() => queued(db) === 0, 'event 4 done');
    assert.deepEqual(db.prepare('SELECT count(*) AS n FROM notify_mail WHERE event_id = ? AND subscriber_id = ?').get(fourth, bad), {
      n: 0,
    });
  } finally {
    await s.stop();
    await sink.close();
  }
  assert.deepEqual(
    received(sink.messages)
      .map((r) => r.to)
      .filter((t) => t === 'bad@example.net'),
    [],
  );
});

test('the relay down delays the messages (retried with backoff) and delivers them once it is back', async () => {
  const { db, email } = setup();
  const at = new Date(Date.now() - 60_000).toISOString();
  for (let i = 0; i < 5; i++) addSubscriber(db, `s${i}@example.net`, [{ scope: 'section', sectionId: email, confirmedAt: at }]);
  // A port nothing listens on yet: the relay is down.
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as { port: number }).port;
  await new Promise<void>((r) => probe.close(() => r()));
  comment(db, email);
  const s = sender(db, port, { firstRetryMs: 100, maxRetryMs: 200 });
  const sink = { current: null as Awaited<ReturnType<typeof startSmtpSink>> | null };
  try {
    await waitFor(
      () =>
        (
          db.prepare("SELECT min(attempts) AS n FROM notify_mail WHERE state = 'queued' AND last_error IS NOT NULL").get() as {
            n: number | null;
          }
        ).n! >= 2,
      'every row tried twice against the absent relay',
    );
    assert.equal(queued(db), 5);
    sink.current = await startSmtpSink({ starttls: false, port });
    await sink.current.waitFor(5);
    await waitFor(() => queued(db) === 0, 'every row sent');
  } finally {
    await s.stop();
    await sink.current?.close();
  }
  const got = received(sink.current!.messages);
  assert.equal(got.length, 5);
  assert.equal(new Set(got.map((r) => r.to)).size, 5, 'each subscriber once');
});

test('unsubscribing stops queued mail at once: the sender checks the subscription when it sends', async () => {
  const { db, email } = setup();
  const at = new Date(Date.now() - 60_000).toISOString();
  const stays = addSubscriber(db, 'stays@example.net', [{ scope: 'section', sectionId: email, confirmedAt: at }]);
  const leaves = addSubscriber(db, 'leaves@example.net', [{ scope: 'section', sectionId: email, confirmedAt: at }]);
  const deleted = addSubscriber(db, 'deleted@example.net', [{ scope: 'all', confirmedAt: at }]);
  comment(db, email);
  // Fanned out with no relay configured: the rows wait.
  const fanOnly = sender(db, null);
  await waitFor(() => queued(db) === 3, 'three rows queued');
  await fanOnly.stop();
  db.prepare('DELETE FROM subscriptions WHERE subscriber_id = ?').run(leaves);
  db.prepare('DELETE FROM subscribers WHERE id = ?').run(deleted);
  const sink = await startSmtpSink({ starttls: false });
  const s = sender(db, sink.port);
  try {
    await sink.waitFor(1);
    await waitFor(() => queued(db) === 0, 'the queue drained');
    comment(db, email);
    await sink.waitFor(2);
    await waitFor(() => queued(db) === 0, 'the queue drained again');
  } finally {
    await s.stop();
    await sink.close();
  }
  assert.deepEqual(
    received(sink.messages).map((r) => r.to),
    ['stays@example.net', 'stays@example.net'],
  );
  assert.deepEqual(
    (db.prepare('SELECT DISTINCT subscriber_id AS id FROM notify_mail').all() as { id: number }[]).map((r) => r.id),
    [stays],
    'the unsubscribed row was dropped, not sent',
  );
});

test('a message that cannot be built is tried again with backoff and then given up, not held against the subscriber', async () => {
  const { db, email } = setup();
  const at = new Date(Date.now() - 60_000).toISOString();
  const broken = addSubscriber(db, 'broken@example.net', [{ scope: 'section', sectionId: email, confirmedAt: at }]);
  addSubscriber(db, 'fine@example.net', [{ scope: 'section', sectionId: email, confirmedAt: at }]);
  comment(db, email);
  const sink = await startSmtpSink({ starttls: false });
  const s = sender(db, sink.port, {
    firstRetryMs: 20,
    maxRetryMs: 20,
    maxAttempts: 3,
    links: (id) => {
      if (id === broken) throw new Error('no link for this one');
      return subscriberLinks(PUBLIC, SECRET, id);
    },
  });
  try {
    await sink.waitFor(1);
    await waitFor(() => queued(db) === 0, 'the broken row given up');
  } finally {
    await s.stop();
    await sink.close();
  }
  assert.deepEqual(db.prepare('SELECT state, attempts, last_error FROM notify_mail WHERE subscriber_id = ?').get(broken), {
    state: 'failed',
    attempts: 3,
    last_error: 'not sent: no link for this one',
  });
  assert.deepEqual(db.prepare('SELECT failures, disabled_at FROM subscribers WHERE id = ?').get(broken), {
    failures: 0,
    disabled_at: null,
  });
  assert.deepEqual(
    received(sink.messages).map((r) => r.to),
    ['fine@example.net'],
  );
});

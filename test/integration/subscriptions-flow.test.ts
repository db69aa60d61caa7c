// Subscribing (issue 14): the form and the API answer the same whatever the address's state, queue one confirmation
// (sent through a loopback relay) and nothing else; the link's page confirms only on POST; unconfirmed requests are
// deleted after 48 hours; the honeypot and the rate limits refuse abuse without telling anything.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { makeHarness } from './api-harness.ts';
import { startSmtpSink } from '../support/smtp-sink.ts';
import { header } from '../support/notify-subscribers.ts';
import { linkIn, postForm } from '../support/subscriptions.ts';
import { expirePendingSubscriptions, relaySender, sendDueConfirmations } from '#server/jobs/subscription-confirmations.ts';
import { SUBSCRIBE_LIMITS } from '#server/services/subscriptions/subscribe.ts';
import { recordNotifyEvent } from '#server/store/notify.ts';
import { fanOutBatch } from '#server/store/notify-mail.ts';

const log = pino({ level: 'silent' });
const count = (h: ReturnType<typeof makeHarness>, sql: string, ...args: unknown[]) =>
  (h.db.prepare(`SELECT count(*) AS n FROM ${sql}`).get(...args) as { n: number }).n;

async function sendQueued(h: ReturnType<typeof makeHarness>, port: number): Promise<number> {
  const relay = relaySender(`smtp://127.0.0.1:${port}`)!;
  try {
    return await sendDueConfirmations({ db: h.db, clock: h.now, log }, relay.send, {
      publicUrl: h.config.publicUrl,
      from: 'Status <status@example.test>',
    });
  } finally {
    relay.close();
  }
}

test('subscribe: one confirmation queued and sent, nothing else; the link page confirms only on POST', async () => {
  const h = makeHarness();
  const sink = await startSmtpSink({ starttls: false });
  try {
    const res = await postForm(h.request, '/subscribe', { email: 'ann@example.net', scope: 'section', section: 'email', website: '' });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.match(await res.text(), /Check your inbox/);
    assert.equal(count(h, 'subscribers'), 1);
    assert.equal(count(h, 'subscriptions WHERE confirmed_at IS NULL'), 1);
    assert.equal(count(h, "subscription_confirmations WHERE state = 'queued'"), 1);
    assert.equal(await sendQueued(h, sink.port), 1);
    assert.equal(sink.messages.length, 1);
    const m = sink.messages[0];
    assert.deepEqual(m.to, ['ann@example.net']);
    assert.match(header(m.data, 'Subject') ?? '', /Confirm your subscription to the Email section/);
    assert.equal(header(m.data, 'List-Unsubscribe-Post'), 'List-Unsubscribe=One-Click');
    // A second pass sends nothing more: the row is sent.
    assert.equal(await sendQueued(h, sink.port), 0);
    assert.equal(sink.messages.length, 1);
    // Only the hash of the link's secret is stored.
    const link = linkIn(m, 'confirm');
    const secret = new URL(link, 'http://x').searchParams.get('token')!;
    const stored = h.db.prepare('SELECT confirm_hash FROM subscriptions').get() as { confirm_hash: string };
    assert.notEqual(stored.confirm_hash, secret);
    assert.ok(!JSON.stringify(h.db.prepare('SELECT * FROM subscription_confirmations').all()).includes(secret));
    // GET (what a link scanner does) shows a button and confirms nothing.
    const page = await h.request('GET', link);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<form method="post" action="\/subscriptions\/confirm\?token=/);
    assert.equal(count(h, 'subscriptions WHERE confirmed_at IS NOT NULL'), 0);
    const done = await postForm(h.request, link, {});
    assert.equal(done.status, 200);
    assert.match(await done.text(), /Subscription confirmed/);
    assert.equal(count(h, 'subscriptions WHERE confirmed_at IS NOT NULL AND confirm_hash IS NULL'), 1);
    // The link is spent.
    assert.equal((await postForm(h.request, link, {})).status, 404);
    assert.equal((await h.request('GET', '/subscriptions/confirm?token=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')).status, 404);
  } finally {
    await sink.close();
  }
});

test('the answer is byte-identical for a new, a pending and a confirmed address; a confirmed follow queues nothing', async () => {
  const h = makeHarness();
  const form = { email: 'bob@example.net', scope: 'all', website: '' };
  const bodies: string[] = [];
  bodies.push(await (await postForm(h.request, '/subscribe', form, '192.0.2.10')).text());
  bodies.push(await (await postForm(h.request, '/subscribe', form, '192.0.2.11')).text());
  h.db.prepare("UPDATE subscriptions SET confirmed_at = '2026-01-15T12:00:00.000Z', confirm_hash = NULL").run();
  h.db.prepare("UPDATE subscription_confirmations SET state = 'sent'").run();
  bodies.push(await (await postForm(h.request, '/subscribe', form, '192.0.2.12')).text());
  bodies.push(await (await postForm(h.request, '/subscribe', { ...form, email: 'new@example.net' }, '192.0.2.13')).text());
  assert.equal(new Set(bodies).size, 1, 'one answer for every case');
  assert.equal(count(h, "subscription_confirmations WHERE state = 'queued'"), 1, 'only the new address has a mail queued');
  const api = [];
  for (const email of ['bob@example.net', 'fresh@example.net']) {
    const r = await h.request('POST', '/api/v1/subscriptions', { body: { email, scope: 'all' }, ip: '192.0.2.20' });
    assert.equal(r.status, 202);
    api.push(await r.text());
  }
  assert.equal(api[0], api[1]);
});

test('bad input: the form answers 400 naming the field, the API a problem; nothing is stored', async () => {
  const h = makeHarness();
  const r = await postForm(h.request, '/subscribe', { email: 'not-an-address', scope: 'all', website: '' });
  assert.equal(r.status, 400);
  assert.match(await r.text(), /email: not a valid address/);
  const cases: [unknown, string][] = [
    [{ email: 'x@example.net', scope: 'section', section: 'nope' }, 'section'],
    [{ email: 'x@example.net', scope: 'task', task: 999999 }, 'task'],
    [{ email: 'x@example.net', scope: 'galaxy' }, 'scope'],
    [{ email: 42 }, 'email'],
  ];
  for (const [body, field] of cases) {
    const res = await h.request('POST', '/api/v1/subscriptions', { body });
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.equal(res.headers.get('content-type'), 'application/problem+json');
    assert.ok(
      ((await res.json()) as { errors: { field: string }[] }).errors.some((e) => e.field === field),
      field,
    );
  }
  assert.equal(count(h, 'subscribers') + count(h, 'subscribe_attempts'), 0);
});

test('honeypot: the same answer, nothing stored or sent', async () => {
  const h = makeHarness();
  const real = await (await postForm(h.request, '/subscribe', { email: 'c@example.net', scope: 'all', website: '' }, '192.0.2.30')).text();
  const before = (h.db.prepare('SELECT total_changes() AS n').get() as { n: number }).n;
  const bot = await postForm(
    h.request,
    '/subscribe',
    { email: 'd@example.net', scope: 'all', website: 'http://spam.example' },
    '192.0.2.31',
  );
  assert.equal(bot.status, 200);
  assert.equal(await bot.text(), real);
  assert.equal((h.db.prepare('SELECT total_changes() AS n').get() as { n: number }).n, before);
  assert.equal(count(h, 'subscribers WHERE email = ?', 'd@example.net'), 0);
});

test('rate limits: per IP a 429, per address the same answer with nothing more queued', async () => {
  const h = makeHarness();
  for (let i = 0; i < SUBSCRIBE_LIMITS.perIp; i++) {
    const r = await postForm(h.request, '/subscribe', { email: `u${i}@example.net`, scope: 'all', website: '' }, '192.0.2.40');
    assert.equal(r.status, 200, `request ${i + 1}`);
  }
  const over = await postForm(h.request, '/subscribe', { email: 'late@example.net', scope: 'all', website: '' }, '192.0.2.40');
  assert.equal(over.status, 429);
  assert.ok(Number(over.headers.get('retry-after')) > 0);
  assert.equal(count(h, 'subscribers WHERE email = ?', 'late@example.net'), 0);
  const api = await h.request('POST', '/api/v1/subscriptions', { body: { email: 'late@example.net' }, ip: '192.0.2.40' });
  assert.equal(api.status, 429);
  assert.equal(api.headers.get('content-type'), 'application/problem+json');
  // Another IP is not limited; the window passing frees this one.
  assert.equal((await postForm(h.request, '/subscribe', { email: 'z@example.net', scope: 'all', website: '' }, '192.0.2.41')).status, 200);
  h.advance(SUBSCRIBE_LIMITS.windowMs);
  assert.equal(
    (await postForm(h.request, '/subscribe', { email: 'late@example.net', scope: 'all', website: '' }, '192.0.2.40')).status,
    200,
  );

  // One address, asked for from many IPs: the answers stay the same, only the first perAddress requests queue a mail.
  const answers = new Set<string>();
  for (let i = 0; i < SUBSCRIBE_LIMITS.perAddress + 3; i++) {
    h.db.prepare("UPDATE subscription_confirmations SET state = 'sent'").run();
    const r = await postForm(h.request, '/subscribe', { email: 'target@example.net', scope: 'all', website: '' }, `198.51.100.${i}`);
    assert.equal(r.status, 200);
    answers.add(await r.text());
  }
  assert.equal(answers.size, 1);
  const requeued = h.db.prepare("SELECT count(*) AS n FROM subscribe_attempts WHERE scope = 'address'").get() as { n: number };
  assert.ok(requeued.n >= SUBSCRIBE_LIMITS.perAddress + 3);
  const queued = count(
    h,
    "subscription_confirmations c JOIN subscriptions s ON s.id = c.subscription_id JOIN subscribers b ON b.id = s.subscriber_id WHERE b.email = 'target@example.net' AND c.state = 'queued'",
  );
  assert.equal(queued, 0, 'over the limit: the request after the last allowed one queued nothing');
  assert.equal(count(h, 'subscribe_attempts WHERE key = ?', 'target@example.net'), 0, 'the address is counted hashed');
});

test('unconfirmed requests are deleted after 48 hours, with the address when nothing else is left', async () => {
  const h = makeHarness();
  await postForm(h.request, '/subscribe', { email: 'e@example.net', scope: 'all', website: '' }, '192.0.2.50');
  await postForm(h.request, '/subscribe', { email: 'f@example.net', scope: 'all', website: '' }, '192.0.2.51');
  await postForm(h.request, '/subscribe', { email: 'f@example.net', scope: 'task', task: '2733', website: '' }, '192.0.2.51');
  // f confirms "everything"; its pending task follow expires, the address stays.
  h.db
    .prepare(
      "UPDATE subscriptions SET confirmed_at = '2026-01-15T12:00:00.000Z', confirm_hash = NULL WHERE scope = 'all' AND subscriber_id = (SELECT id FROM subscribers WHERE email = 'f@example.net')",
    )
    .run();
  const deps = { db: h.db, clock: h.now, log };
  h.advance(48 * 3_600_000 - 1000);
  assert.deepEqual(expirePendingSubscriptions(deps), { follows: 0, subscribers: 0 });
  h.advance(2000);
  assert.deepEqual(expirePendingSubscriptions(deps), { follows: 2, subscribers: 1 });
  assert.deepEqual(h.db.prepare('SELECT email FROM subscribers').all(), [{ email: 'f@example.net' }]);
  assert.equal(count(h, 'subscriptions'), 1);
  assert.equal(count(h, 'subscription_confirmations c JOIN subscriptions s ON s.id = c.subscription_id WHERE s.confirmed_at IS NULL'), 0);
});

test('an unconfirmed follow gets nothing but the confirmation: the fan-out skips it until the link is followed', async () => {
  const h = makeHarness();
  const sink = await startSmtpSink({ starttls: false });
  try {
    await postForm(h.request, '/subscribe', { email: 'g@example.net', scope: 'section', section: 'email', website: '' });
    const section = (h.db.prepare("SELECT id FROM sections WHERE slug = 'email'").get() as { id: number }).id;
    const event = () =>
      recordNotifyEvent(h.db, {
        kind: 'comment',
        taskId: 2733,
        sectionId: section,
        at: h.now().toISOString(),
        payload: {
          subject: 'FS#2733: new comment',
          text: 'x',
          html: '<p>x</p>',
          url: 'http://localhost:8080/task/2733',
          task: null,
          section: null,
          changes: [],
        },
      });
    event();
    fanOutBatch(h.db, 50, h.now().getTime());
    assert.equal(count(h, 'notify_mail'), 0, 'pending: no subscriber mail');
    assert.equal(await sendQueued(h, sink.port), 1);
    assert.equal((await postForm(h.request, linkIn(sink.messages[0], 'confirm'), {})).status, 200);
    event();
    fanOutBatch(h.db, 50, h.now().getTime());
    assert.equal(count(h, 'notify_mail'), 1, 'confirmed: the next event is for them');
  } finally {
    await sink.close();
  }
});

test('the confirmation mail is retried after a temporary refusal (with a new link) and given up after a permanent one', async () => {
  const h = makeHarness();
  let refuse: [number, string] | null = [451, '4.3.0 try later'];
  const sink = await startSmtpSink({ starttls: false, refuseRcpt: () => refuse });
  try {
    await postForm(h.request, '/subscribe', { email: 'r@example.net', scope: 'all', website: '' });
    const hash = () => (h.db.prepare('SELECT confirm_hash FROM subscriptions').get() as { confirm_hash: string }).confirm_hash;
    assert.equal(await sendQueued(h, sink.port), 0);
    const first = hash();
    assert.equal(count(h, "subscription_confirmations WHERE state = 'queued' AND attempts = 1 AND last_error LIKE '%try later%'"), 1);
    assert.equal(await sendQueued(h, sink.port), 0, 'not due again before its backoff');
    refuse = null;
    h.advance(30_000);
    assert.equal(await sendQueued(h, sink.port), 1);
    assert.notEqual(hash(), first, 'the resend carries a new secret');
    assert.equal((await postForm(h.request, linkIn(sink.messages[0], 'confirm'), {})).status, 200);

    refuse = [550, '5.1.1 no such user'];
    await postForm(h.request, '/subscribe', { email: 'gone@example.net', scope: 'all', website: '' });
    assert.equal(await sendQueued(h, sink.port), 0);
    assert.equal(count(h, "subscription_confirmations WHERE state = 'failed'"), 1);
  } finally {
    await sink.close();
  }
});

test('an address disabled after permanent refusals is enabled again only by confirming a new request', async () => {
  const h = makeHarness();
  const sink = await startSmtpSink({ starttls: false });
  try {
    await postForm(h.request, '/subscribe', { email: 'd@example.net', scope: 'all', website: '' });
    await sendQueued(h, sink.port);
    await postForm(h.request, linkIn(sink.messages[0], 'confirm'), {});
    h.db.prepare("UPDATE subscribers SET failures = 3, disabled_at = '2026-01-15T12:00:00.000Z', disabled_reason = '550'").run();
    await postForm(h.request, '/subscribe', { email: 'd@example.net', scope: 'all', website: '' }, '192.0.2.60');
    assert.equal(count(h, 'subscriptions WHERE confirmed_at IS NULL'), 1, 'the follow waits for a new confirmation');
    assert.equal(await sendQueued(h, sink.port), 1);
    assert.equal(count(h, 'subscribers WHERE disabled_at IS NOT NULL'), 1, 'still disabled until the link is followed');
    await postForm(h.request, linkIn(sink.messages[1], 'confirm'), {});
    assert.equal(count(h, 'subscribers WHERE disabled_at IS NULL AND failures = 0'), 1);
  } finally {
    await sink.close();
  }
});

// The manage page and the unsubscribe link of every message (issue 14): the token in the link is the only
// authorization; the page lists what the address follows, unfollows items and deletes the address (rows deleted);
// a mail client's one-click POST (RFC 8058) unsubscribes at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { makeHarness } from './api-harness.ts';
import { startSmtpSink } from '../support/smtp-sink.ts';
import { header } from '../support/notify-subscribers.ts';
import { linkIn, postForm } from '../support/subscriptions.ts';
import { relaySender, sendDueConfirmations } from '#server/jobs/subscription-confirmations.ts';
import { subscriberLinks } from '#server/domain/subscription-links.ts';
import { linkSecret } from '#server/store/subscriptions.ts';

const log = pino({ level: 'silent' });
type Harness = ReturnType<typeof makeHarness>;
const count = (h: Harness, sql: string, ...args: unknown[]) =>
  (h.db.prepare(`SELECT count(*) AS n FROM ${sql}`).get(...args) as { n: number }).n;

/** Subscribes `email` to each follow and confirms each through the link its mail carried; returns the last mail. */
async function subscribed(h: Harness, email: string, follows: Record<string, string>[]) {
  const sink = await startSmtpSink({ starttls: false });
  const relay = relaySender(`smtp://127.0.0.1:${sink.port}`)!;
  try {
    for (const [i, f] of follows.entries()) {
      assert.equal((await postForm(h.request, '/subscribe', { email, website: '', ...f }, `192.0.2.${100 + i}`)).status, 200);
      await sendDueConfirmations({ db: h.db, clock: h.now, log }, relay.send, {
        publicUrl: h.config.publicUrl,
        from: 'status@example.test',
      });
      const m = sink.messages.at(-1)!;
      assert.equal((await postForm(h.request, linkIn(m, 'confirm'), {})).status, 200);
    }
    return sink.messages.at(-1)!;
  } finally {
    relay.close();
    await sink.close();
  }
}

test('manage page: lists the follows, unfollows one (row deleted), deletes the address (row deleted)', async () => {
  const h = makeHarness();
  await subscribed(h, 'other@example.net', [{ scope: 'all' }]);
  // Ann is the newest subscriber: a plain INTEGER PRIMARY KEY would hand her id out again after she is deleted.
  const mail = await subscribed(h, 'ann@example.net', [
    { scope: 'section', section: 'email' },
    { scope: 'task', task: '2733' },
  ]);
  const manage = linkIn(mail, 'manage');
  // The links in the mail are the ones the sender builds for this subscriber (server/domain/subscription-links.ts).
  const id = (h.db.prepare("SELECT id FROM subscribers WHERE email = 'ann@example.net'").get() as { id: number }).id;
  const links = subscriberLinks(h.config.publicUrl, linkSecret(h.db), id);
  assert.equal(h.config.publicUrl + manage, links.manageUrl);
  assert.equal(header(mail.data, 'List-Unsubscribe'), links.headers['List-Unsubscribe']);

  const page = await h.request('GET', manage);
  assert.equal(page.status, 200);
  assert.equal(page.headers.get('cache-control'), 'no-store');
  assert.equal(page.headers.get('referrer-policy'), 'no-referrer');
  const html = await page.text();
  assert.match(html, /ann@example\.net/);
  assert.match(html, />Email</);
  assert.match(html, /FS#2733: /);
  assert.doesNotMatch(html, /other@example\.net/);

  const follows = h.db.prepare('SELECT id, scope FROM subscriptions WHERE subscriber_id = ? ORDER BY id').all(id) as {
    id: number;
    scope: string;
  }[];
  assert.deepEqual(
    follows.map((f) => f.scope),
    ['section', 'task'],
  );
  // Someone else's follow id with this token changes nothing.
  const othersFollow = (h.db.prepare('SELECT id FROM subscriptions WHERE subscriber_id <> ?').get(id) as { id: number }).id;
  const refused = await postForm(h.request, manage, { action: 'unfollow', follow: String(othersFollow) });
  assert.match(await refused.text(), /not one of your subscriptions/);
  assert.equal(count(h, 'subscriptions WHERE id = ?', othersFollow), 1);

  const after = await postForm(h.request, manage, { action: 'unfollow', follow: String(follows[0].id) });
  assert.equal(after.status, 200);
  assert.match(await after.text(), /Unfollowed/);
  assert.equal(count(h, 'subscriptions WHERE id = ?', follows[0].id), 0);
  assert.equal(count(h, 'subscriptions WHERE subscriber_id = ?', id), 1);

  // Without the token (a forged form) nothing happens.
  assert.equal((await postForm(h.request, '/subscriptions/manage', { action: 'delete' })).status, 404);
  assert.equal((await postForm(h.request, '/subscriptions/manage?token=forgedforgedforgedforged', { action: 'delete' })).status, 404);
  assert.equal(count(h, 'subscribers'), 2);

  const gone = await postForm(h.request, manage, { action: 'delete' });
  assert.equal(gone.status, 200);
  assert.match(await gone.text(), /Your address is deleted/);
  assert.equal(count(h, 'subscribers WHERE email = ?', 'ann@example.net'), 0);
  assert.equal(count(h, 'subscriptions WHERE subscriber_id = ?', id), 0);
  assert.equal((await h.request('GET', manage)).status, 404);
  assert.equal(count(h, 'subscribers'), 1);

  // The address subscribes again: a new subscriber id, so the old mail's links never reach the new row.
  await subscribed(h, 'ann@example.net', [{ scope: 'all' }]);
  const again = (h.db.prepare("SELECT id FROM subscribers WHERE email = 'ann@example.net'").get() as { id: number }).id;
  assert.ok(again > id);
  assert.equal((await h.request('GET', manage)).status, 404);
});

test('one-click unsubscribe (RFC 8058): the POST deletes the subscriber at once; GET only shows a button', async () => {
  const h = makeHarness();
  const mail = await subscribed(h, 'bob@example.net', [{ scope: 'all' }]);
  const unsubscribe = linkIn(mail, 'unsubscribe');
  const page = await h.request('GET', unsubscribe);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /<button type="submit">Unsubscribe and delete my address<\/button>/);
  assert.equal(count(h, 'subscribers'), 1);
  const r = await h.request('POST', unsubscribe, {
    raw: 'List-Unsubscribe=One-Click',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('location'), null);
  assert.equal(count(h, 'subscribers'), 0);
  assert.equal(count(h, 'subscriptions'), 0);
  assert.equal((await h.request('GET', unsubscribe)).status, 404);
});

// /staff/mail/quarantine without JavaScript (issue 12): a GET search form, the quarantined copies with everything from
// mail escaped, a POST form per held copy to release (never a virus) or delete it with the session's CSRF token, the
// redirect that says the node applies it on its next sync; and /staff/mail's warning for a node with scanning off.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { QuarantineEntry } from '#data/contracts/quarantine.ts';
import type { TelemetryEvent } from '#data/contracts/telemetry.ts';
import { issueNodeToken } from '#server/services/mail/issueNodeToken.ts';
import { ingestBatch } from '#server/services/telemetry/ingestBatch.ts';
import { recordHeartbeat } from '#server/services/telemetry/recordHeartbeat.ts';
import { hashNodeToken } from '#server/services/mail/issueNodeToken.ts';
import { findNodeByTokenHash, type MxNode } from '#server/store/mail.ts';
import { makeStaffHarness, visibleText } from './staff-harness.ts';

/** A telemetry event before the shipper numbers and dates it. */
type Unnumbered = TelemetryEvent extends infer E ? (E extends TelemetryEvent ? Omit<E, 'seq' | 'at'> : never) : never;

const XSS_SUBJECT = '<script>alert(1)</script>';
const XSS_SENDER = '"><img src=x onerror=alert(2)>@evil.test';
const XSS_SYMBOL = '<img src=x onerror=alert(3)>';

const entry = (deliveryId: number, over: Partial<QuarantineEntry> = {}): QuarantineEntry => ({
  deliveryId,
  recipient: 'anna@example.com',
  route: 'maildir',
  target: 'anna@example.com',
  sender: 'spammer@remote.test',
  subject: 'Cheap watches',
  size: 900,
  score: 15,
  symbols: ['GTUBE'],
  virus: null,
  ...over,
});

async function setup() {
  const h = makeStaffHarness();
  await h.addUser('sam', 'staff');
  const node = findNodeByTokenHash(
    h.db,
    hashNodeToken(issueNodeToken({ ctx: h.ctx, actor: { userId: null, name: 'cli' }, name: 'mx1' })),
  ) as MxNode;
  let seq = 0;
  const ship = (events: Unnumbered[]) => {
    const at = h.clock().getTime();
    const batch = { after: seq, events: events.map((e, i) => ({ ...e, seq: seq + i + 1, at }) as TelemetryEvent) };
    seq += events.length;
    ingestBatch({ db: h.db, clock: h.clock, node, batch });
  };
  ship([
    {
      type: 'quarantined',
      messageId: 'a',
      reason: 'spam',
      entry: entry(1, { subject: XSS_SUBJECT, sender: XSS_SENDER, symbols: ['GTUBE', XSS_SYMBOL] }),
    },
    {
      type: 'quarantined',
      messageId: 'b',
      reason: 'virus',
      entry: entry(2, { subject: 'Invoice', score: null, symbols: [], virus: 'Eicar<b>-Signature' }),
    },
    // Held back by "no spam forwarding": a release sends it to another provider.
    {
      type: 'quarantined',
      messageId: 'c',
      reason: 'spam',
      entry: entry(3, { subject: null, sender: '', route: 'forward', target: 'bob<b>@provider.test' }),
    },
  ]);
  const b = h.browser();
  await b.login('sam');
  return {
    h,
    b,
    node,
    ship,
    heartbeat: (scanning?: 'on' | 'off') =>
      recordHeartbeat({
        db: h.db,
        clock: h.clock,
        node,
        heartbeat: {
          at: h.clock().getTime(),
          queueDepth: 0,
          oldestQueuedMs: null,
          inRetry: 0,
          configVersion: 0,
          lastSyncAt: null,
          lastSeq: seq,
          ...(scanning ? { scanning } : {}),
        },
      }),
  };
}

test('the list escapes every mail-supplied string and offers release only for spam', async () => {
  const { b } = await setup();
  const page = await b.get('/staff/mail/quarantine');
  assert.equal(page.status, 200);
  // Nothing from mail comes out as markup.
  assert.doesNotMatch(page.text, /<script>alert/);
  assert.doesNotMatch(page.text, /<img src=x/);
  assert.doesNotMatch(page.text, /Eicar<b>/);
  assert.match(page.text, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
  assert.match(page.text, /&lt;img src=x onerror=alert\(3\)&gt;/);
  assert.match(page.text, /&quot;&gt;&lt;img src=x onerror=alert\(2\)&gt;@evil\.test/);
  const text = visibleText(page.text);
  assert.ok(text.includes(XSS_SUBJECT));
  assert.ok(text.includes('virus Eicar<b>-Signature'));
  assert.ok(text.includes('(no subject)'));
  assert.ok(text.includes('<> (null sender)'));
  // Where a release takes each copy, next to its button: the forward says it leaves for another provider.
  assert.ok(text.includes('Release forward to bob<b>@provider.test (external)'), text);
  assert.ok(text.includes('Release deliver to anna@example.com (mailbox)'));
  assert.doesNotMatch(page.text, /bob<b>/);
  assert.match(page.text, /aria-describedby="release-to-\d+-3"/);
  // Spam: release and delete; the virus: delete only.
  assert.match(page.text, /action="\/staff\/mail\/quarantine\/mx1\/1\/release"/);
  assert.match(page.text, /action="\/staff\/mail\/quarantine\/mx1\/1\/delete"/);
  assert.doesNotMatch(page.text, /action="\/staff\/mail\/quarantine\/mx1\/2\/release"/);
  assert.match(page.text, /action="\/staff\/mail\/quarantine\/mx1\/2\/delete"/);
  // Labelled inputs, table headers, buttons named by their copy.
  for (const id of ['qq', 'qreason', 'qstatus', 'qnode']) assert.match(page.text, new RegExp(`<label for="${id}">`));
  assert.match(page.text, /<th scope="col">Subject<\/th>/);
  assert.match(page.text, /aria-label="Release copy 1 on mx1">Release<\/button>/);

  // The GET search form: words, reason and status.
  let r = await b.get('/staff/mail/quarantine?q=eicar&reason=&status=&node=');
  assert.match(r.text, /mx1\/2\/delete/);
  assert.doesNotMatch(r.text, /mx1\/1\/delete/);
  r = await b.get(`/staff/mail/quarantine?q=${encodeURIComponent('<script>')}`);
  assert.match(r.text, /value="&lt;script&gt;"/);
  assert.match(r.text, /mx1\/1\/delete/);
  r = await b.get('/staff/mail/quarantine?reason=virus&status=held');
  assert.match(r.text, /<option value="virus" selected>/);
  assert.doesNotMatch(r.text, /mx1\/1\/delete/);
  r = await b.get('/staff/mail/quarantine?status=released');
  assert.ok(visibleText(r.text).includes('No quarantined message matches.'));

  // /staff/mail links here with the counts.
  const mail = await b.get('/staff/mail');
  assert.match(mail.text, /href="\/staff\/mail\/quarantine"/);
  assert.ok(visibleText(mail.text).includes('3 held, 0 released, 0 deleted.'));
});

test('release and delete through the forms: redirect with the sync notice, the pending request shown, refusals on the page', async () => {
  const { h, b, ship } = await setup();
  await b.get('/staff/mail/quarantine');
  let r = await b.post('/staff/mail/quarantine/mx1/1/release', {});
  assert.equal(r.status, 303, visibleText(r.text).slice(0, 300));
  assert.equal(r.location, '/staff/mail/quarantine?done=release-requested');
  let page = await b.get(r.location);
  assert.ok(visibleText(page.text).includes('Release requested: the MX node delivers the message on its next config sync.'));
  assert.ok(visibleText(page.text).includes('release requested 2026-01-15 12:00'), visibleText(page.text));
  // No more forms for a copy with a request waiting.
  assert.doesNotMatch(page.text, /mx1\/1\/(release|delete)"/);

  r = await b.post('/staff/mail/quarantine/mx1/2/delete', {});
  assert.equal(r.status, 303);
  assert.equal(r.location, '/staff/mail/quarantine?done=delete-requested');

  // A virus release (forged, the page offers none), a second request, an unknown copy: refused on the page.
  r = await b.post('/staff/mail/quarantine/mx1/2/release', {});
  assert.equal(r.status, 409);
  assert.ok(visibleText(r.text).includes('A message with a virus is never delivered: it cannot be released, only deleted.'));
  r = await b.post('/staff/mail/quarantine/mx1/1/delete', {});
  assert.equal(r.status, 409);
  assert.match(visibleText(r.text), /already waiting for the node/);
  r = await b.post('/staff/mail/quarantine/mx1/99/delete', {});
  assert.equal(r.status, 404);
  r = await b.post('/staff/mail/quarantine/mx1/x/delete', {});
  assert.equal(r.status, 404);

  const actions = h.db.prepare('SELECT id, delivery_id AS d, action, state FROM quarantine_actions ORDER BY id').all() as {
    id: number;
    d: number;
    action: string;
    state: string;
  }[];
  assert.deepEqual(
    actions.map((a) => `${a.d} ${a.action} ${a.state}`),
    ['1 release pending', '2 delete pending'],
  );
  assert.deepEqual(h.db.prepare("SELECT action, target, actor FROM audit_log WHERE action LIKE 'mail.quarantine.%' ORDER BY id").all(), [
    { action: 'mail.quarantine.release', target: 'mx1/1', actor: 'sam' },
    { action: 'mail.quarantine.delete', target: 'mx1/2', actor: 'sam' },
  ]);

  // The node applies them: the page shows where each copy went.
  ship([
    { type: 'released', messageId: 'a', deliveryId: 1, actionId: actions[0].id },
    { type: 'purged', messageId: 'b', deliveryId: 2, reason: 'staff', actionId: actions[1].id },
  ]);
  page = await b.get('/staff/mail/quarantine');
  const text = visibleText(page.text);
  assert.ok(text.includes('released 2026-01-15 12:00'), text);
  assert.ok(text.includes('deleted by staff 2026-01-15 12:00'), text);
});

test('logged out: no page and no request; without the CSRF token: no request', async () => {
  const { h, b } = await setup();
  const anon = h.browser();
  const r = await anon.get('/staff/mail/quarantine');
  assert.equal(r.status, 303);
  assert.match(r.location ?? '', /^\/staff\/login\?next=/);
  assert.notEqual((await anon.post('/staff/mail/quarantine/mx1/1/release', {}, { csrf: false })).status, 303);
  await b.get('/staff/mail/quarantine');
  assert.equal((await b.post('/staff/mail/quarantine/mx1/1/release', {}, { csrf: 'wrong' })).status, 403);
  assert.equal((await b.post('/staff/mail/quarantine/mx1/1/delete', {}, { csrf: false })).status, 403);
  assert.equal(h.db.prepare('SELECT count(*) FROM quarantine_actions').pluck().get(), 0);
});

test('a node whose latest heartbeat says scanning is off gets a warning on /staff/mail and the quarantine page', async () => {
  const { b, heartbeat } = await setup();
  const warning = 'Node mx1 accepts mail without content scanning (TIDINGS_SCAN=off): messages are delivered unscanned.';
  heartbeat('on');
  assert.ok(!visibleText((await b.get('/staff/mail')).text).includes(warning));
  heartbeat('off');
  assert.ok(visibleText((await b.get('/staff/mail')).text).includes(warning));
  assert.ok(visibleText((await b.get('/staff/mail/quarantine')).text).includes(warning));
  // A later heartbeat with scanning back on (or a node that does not say) clears it.
  heartbeat();
  assert.ok(!visibleText((await b.get('/staff/mail')).text).includes(warning));
});

test('more copies than a page: an "Older messages" link keeps the search and continues where the page ended', async () => {
  const { b, ship } = await setup();
  ship(
    Array.from({ length: 60 }, (_, i) => ({
      type: 'quarantined' as const,
      messageId: `bulk${i}`,
      reason: 'spam' as const,
      entry: entry(100 + i, { subject: `Bulk offer ${i}` }),
    })),
  );
  const first = await b.get('/staff/mail/quarantine?q=bulk');
  const ids = (html: string) => [...html.matchAll(/quarantine\/mx1\/(\d+)\/delete/g)].map((m) => Number(m[1]));
  assert.equal(ids(first.text).length, 50);
  const m = /<a href="(\/staff\/mail\/quarantine\?[^"]+)">Older messages<\/a>/.exec(first.text);
  assert.ok(m, 'a link to the older copies');
  const href = m[1].replace(/&amp;/g, '&');
  assert.match(href, /[?&]q=bulk(&|$)/);
  const second = await b.get(href);
  assert.equal(ids(second.text).length, 10);
  assert.doesNotMatch(second.text, />Older messages</);
  assert.deepEqual(new Set([...ids(first.text), ...ids(second.text)]).size, 60);
});

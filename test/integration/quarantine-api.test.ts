// The backend's quarantine (issue 12) over HTTP: the index fed by a node's event log (POST /api/v1/telemetry), staff
// search and release / delete requests (/api/v1/mail/quarantine), the node fetching its pending actions
// (/api/v1/mx/quarantine/actions), the node's events resolving them, and the accounting line counting a release.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { QuarantineEntry } from '#data/contracts/quarantine.ts';
import type { TelemetryEvent } from '#data/contracts/telemetry.ts';
import { accounting } from '#server/services/telemetry/accounting.ts';
import { issueNodeToken } from '#server/services/mail/issueNodeToken.ts';
import { runQuarantineIndexPrune } from '#server/jobs/quarantine-index-prune.ts';
import { makeHarness, type Session } from './api-harness.ts';

type Ev = Omit<TelemetryEvent, 'seq' | 'at'> & Record<string, unknown>;

const entry = (deliveryId: number, over: Partial<QuarantineEntry> = {}): QuarantineEntry => ({
  deliveryId,
  recipient: 'anna@example.com',
  route: 'maildir',
  target: 'anna@example.com',
  sender: 'spammer@remote.test',
  subject: 'Cheap watches',
  size: 1234,
  score: 14.2,
  symbols: ['GTUBE', 'MISSING_DATE'],
  virus: null,
  ...over,
});

async function setup() {
  const h = makeHarness();
  const session: Session = await h.admin();
  const tokens = {
    mx1: issueNodeToken({ ctx: h.ctx, actor: { userId: null, name: 'cli' }, name: 'mx1' }),
    mx2: issueNodeToken({ ctx: h.ctx, actor: { userId: null, name: 'cli' }, name: 'mx2' }),
  };
  const seqs = { mx1: 0, mx2: 0 };
  const call = async (method: string, path: string, o: { body?: unknown; as?: Session | null; csrf?: false } = {}) => {
    const res = await h.request(method, path, { body: o.body, session: o.as === null ? undefined : (o.as ?? session), csrf: o.csrf });
    const text = await res.text();
    return { status: res.status, type: res.headers.get('content-type') ?? '', body: text ? JSON.parse(text) : null };
  };
  const asNode = async (node: 'mx1' | 'mx2', method: string, path: string, body?: unknown) => {
    const res = await h.request(method, path, { body, headers: { authorization: `Bearer ${tokens[node]}` } });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };
  /** Ships events as the node's next seqs; `after` may be given to replay. */
  const ship = async (node: 'mx1' | 'mx2', events: Ev[], after = seqs[node]) => {
    const at = h.now().getTime();
    const batch = { after, events: events.map((e, i) => ({ seq: after + i + 1, at, ...e })) };
    const r = await asNode(node, 'POST', '/api/v1/telemetry', batch);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    seqs[node] = Math.max(seqs[node], after + events.length);
    return r.body as { cursor: number; applied: number };
  };
  const beat = async (node: 'mx1' | 'mx2', queueDepth: number, scanning?: 'on' | 'off') => {
    const r = await asNode(node, 'POST', '/api/v1/telemetry/heartbeat', {
      at: h.now().getTime(),
      queueDepth,
      oldestQueuedMs: null,
      inRetry: 0,
      configVersion: 0,
      lastSyncAt: null,
      lastSeq: seqs[node],
      ...(scanning ? { scanning } : {}),
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
  };
  const list = async (query = '') => {
    const r = await call('GET', `/api/v1/mail/quarantine${query}`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body as { items: Record<string, unknown>[]; next: string | null };
  };
  return { h, db: h.db, session, call, asNode, ship, beat, list };
}

test('quarantined events with their entry are indexed (idempotent on replay); search, filters, newest first and pages', async () => {
  const { h, ship, list, call } = await setup();
  await ship('mx1', [
    { type: 'accepted', messageId: 'm1', deliveries: 2 },
    { type: 'quarantined', messageId: 'm1', reason: 'spam', entry: entry(1, { subject: '<script>alert(1)</script>' }) },
  ]);
  h.advance(1_000);
  await ship('mx1', [
    { type: 'quarantined', messageId: 'm1', reason: 'virus', entry: entry(2, { score: null, symbols: [], virus: 'Eicar-Signature' }) },
  ]);
  h.advance(1_000);
  await ship('mx2', [
    { type: 'quarantined', messageId: 'm2', reason: 'spam', entry: entry(7, { recipient: 'bob@example.org', sender: '', subject: null }) },
  ]);
  // An event without an entry (a node older than it) is counted, but there is nothing to index.
  await ship('mx2', [{ type: 'quarantined', messageId: 'm3', reason: 'spam' }]);

  let l = await list();
  assert.deepEqual(
    l.items.map((i) => `${i.node}/${i.deliveryId} ${i.reason} ${i.status}`),
    ['mx2/7 spam held', 'mx1/2 virus held', 'mx1/1 spam held'],
  );
  assert.equal(l.next, null);
  const first = l.items[2];
  assert.deepEqual(first, {
    node: 'mx1',
    nodeId: first.nodeId,
    deliveryId: 1,
    messageId: 'm1',
    reason: 'spam',
    recipient: 'anna@example.com',
    route: 'maildir',
    target: 'anna@example.com',
    sender: 'spammer@remote.test',
    subject: '<script>alert(1)</script>',
    size: 1234,
    score: 14.2,
    symbols: ['GTUBE', 'MISSING_DATE'],
    virus: null,
    quarantinedAt: '2026-01-15T12:00:00.000Z',
    status: 'held',
    statusAt: null,
    purgeReason: null,
    pending: null,
    refused: null,
  });

  // Replaying a batch the backend holds applies nothing and indexes nothing twice.
  const again = await ship(
    'mx1',
    [
      { type: 'accepted', messageId: 'm1', deliveries: 2 },
      { type: 'quarantined', messageId: 'm1', reason: 'spam', entry: entry(1, { subject: 'changed' }) },
    ],
    0,
  );
  assert.equal(again.applied, 0);
  assert.equal((await list()).items.length, 3);
  assert.equal((await list('?q=script')).items[0].subject, '<script>alert(1)</script>');

  // Search: every word somewhere in subject, sender, recipient, symbols, virus or message id; LIKE wildcards literal.
  assert.deepEqual(
    (await list('?q=eicar')).items.map((i) => i.deliveryId),
    [2],
  );
  assert.deepEqual(
    (await list('?q=GTUBE%20bob')).items.map((i) => i.deliveryId),
    [7],
  );
  assert.deepEqual(
    (await list('?q=%25')).items.map((i) => i.deliveryId),
    [],
  );
  assert.deepEqual(
    (await list('?q=G_UBE')).items.map((i) => i.deliveryId),
    [],
  );
  assert.deepEqual(
    (await list('?q=ING_DA')).items.map((i) => i.deliveryId),
    [7, 1],
  );
  assert.deepEqual(
    (await list('?reason=virus')).items.map((i) => i.deliveryId),
    [2],
  );
  assert.deepEqual(
    (await list('?node=mx2')).items.map((i) => i.deliveryId),
    [7],
  );
  assert.deepEqual((await list('?status=released')).items, []);

  // Pages: two, then the rest from the cursor.
  l = await list('?limit=2');
  assert.deepEqual(
    l.items.map((i) => i.deliveryId),
    [7, 2],
  );
  assert.ok(l.next);
  const rest = await list(`?limit=2&before=${encodeURIComponent(l.next)}`);
  assert.deepEqual(
    rest.items.map((i) => i.deliveryId),
    [1],
  );
  assert.equal(rest.next, null);

  // Bad queries: a 400 problem naming the field.
  // A node filter follows the node-name rule (issueNodeToken's), not just a length.
  for (const q of ['?reason=dmarc', '?status=gone', '?limit=0', '?limit=x', '?before=nope', '?extra=1', '?node=mx%201', '?node=%3Cb%3E']) {
    const r = await call('GET', `/api/v1/mail/quarantine${q}`);
    assert.equal(r.status, 400, q);
    assert.match(r.type, /application\/problem\+json/);
    assert.ok(r.body.detail, q);
  }
});

test('release and delete: 202 with the action, audited; 404 unknown, 409 virus release, pending or no longer held; session and CSRF required', async () => {
  const { db, call, ship, asNode, list, session } = await setup();
  await ship('mx1', [
    { type: 'quarantined', messageId: 'a', reason: 'spam', entry: entry(1) },
    { type: 'quarantined', messageId: 'b', reason: 'virus', entry: entry(2, { virus: 'Eicar-Signature', score: null }) },
    { type: 'quarantined', messageId: 'c', reason: 'spam', entry: entry(3) },
  ]);
  await ship('mx2', [{ type: 'quarantined', messageId: 'd', reason: 'spam', entry: entry(1) }]);

  // No session: 401; a session without the CSRF header: 403; nothing requested.
  assert.equal((await call('POST', '/api/v1/mail/quarantine/mx1/1/release', { as: null })).status, 401);
  assert.equal((await call('GET', '/api/v1/mail/quarantine', { as: null })).status, 401);
  assert.equal((await call('POST', '/api/v1/mail/quarantine/mx1/1/release', { csrf: false })).status, 403);
  // A node token is no staff session.
  assert.equal((await asNode('mx1', 'GET', '/api/v1/mail/quarantine')).status, 401);

  let r = await call('POST', '/api/v1/mail/quarantine/mx1/1/release');
  assert.equal(r.status, 202, JSON.stringify(r.body));
  assert.equal(r.body.action, 'release');
  assert.equal(r.body.state, 'pending');
  assert.equal(r.body.node, 'mx1');
  assert.equal(r.body.deliveryId, 1);
  assert.equal(r.body.requestedBy, session.userId);
  const releaseId = r.body.id as number;

  r = await call('POST', '/api/v1/mail/quarantine/mx1/1/delete');
  assert.equal(r.status, 409);
  assert.match(r.body.detail, /release of the copy 1 on mx1 is already waiting/);

  r = await call('POST', '/api/v1/mail/quarantine/mx1/2/release');
  assert.equal(r.status, 409);
  assert.match(r.body.detail, /virus is never delivered/);
  r = await call('POST', '/api/v1/mail/quarantine/mx1/2/delete');
  assert.equal(r.status, 202);
  const deleteId = r.body.id as number;

  for (const path of ['/api/v1/mail/quarantine/mx1/99/release', '/api/v1/mail/quarantine/nosuch/1/delete']) {
    r = await call('POST', path);
    assert.equal(r.status, 404, path);
    assert.match(r.type, /application\/problem\+json/);
    assert.match(r.body.detail, /no quarantined copy/);
  }
  for (const path of [
    '/api/v1/mail/quarantine/mx1/0/release',
    '/api/v1/mail/quarantine/mx1/x/release',
    '/api/v1/mail/quarantine/m%20x/1/delete',
    '/api/v1/mail/quarantine/mx1%00/1/delete',
  ]) {
    r = await call('POST', path);
    assert.equal(r.status, 400, path);
  }

  // Each node sees its own pending actions, oldest first; mx2 has none.
  let a = await asNode('mx1', 'GET', '/api/v1/mx/quarantine/actions');
  assert.equal(a.status, 200);
  assert.deepEqual(a.body, {
    actions: [
      { id: releaseId, deliveryId: 1, messageId: 'a', action: 'release' },
      { id: deleteId, deliveryId: 2, messageId: 'b', action: 'delete' },
    ],
  });
  assert.deepEqual((await asNode('mx2', 'GET', '/api/v1/mx/quarantine/actions')).body, { actions: [] });
  // A staff session is no node token.
  assert.equal((await call('GET', '/api/v1/mx/quarantine/actions')).status, 401);

  // The list shows what waits.
  const held = (await list('?node=mx1')).items.find((i) => i.deliveryId === 1);
  assert.equal((held?.pending as { action: string } | null)?.action, 'release');

  // The node applies them: its events resolve the actions and move the copies.
  await ship('mx1', [
    { type: 'released', messageId: 'a', deliveryId: 1, actionId: releaseId },
    { type: 'purged', messageId: 'b', deliveryId: 2, reason: 'staff', actionId: deleteId },
    // A retention purge of a copy with no request.
    { type: 'purged', messageId: 'c', deliveryId: 3, reason: 'retention' },
  ]);
  a = await asNode('mx1', 'GET', '/api/v1/mx/quarantine/actions');
  assert.deepEqual(a.body, { actions: [] });
  const states = db.prepare('SELECT id, state, resolved_at IS NOT NULL AS resolved FROM quarantine_actions ORDER BY id').all();
  assert.deepEqual(states, [
    { id: releaseId, state: 'done', resolved: 1 },
    { id: deleteId, state: 'done', resolved: 1 },
  ]);
  const items = (await list('?node=mx1')).items.map((i) => `${i.deliveryId} ${i.status} ${i.purgeReason} ${i.pending === null}`);
  assert.deepEqual(items.sort(), ['1 released null true', '2 purged staff true', '3 purged retention true']);

  // No longer held: 409 for either request; mx2's copy 1 is another copy and still held.
  r = await call('POST', '/api/v1/mail/quarantine/mx1/1/delete');
  assert.equal(r.status, 409);
  assert.match(r.body.detail, /no longer in quarantine: it was released/);
  assert.equal((await call('POST', '/api/v1/mail/quarantine/mx1/3/release')).status, 409);
  assert.equal((await call('POST', '/api/v1/mail/quarantine/mx2/1/delete')).status, 202);

  const audit = db
    .prepare("SELECT action, target, user_id AS userId FROM audit_log WHERE action LIKE 'mail.quarantine.%' ORDER BY id")
    .all();
  assert.deepEqual(audit, [
    { action: 'mail.quarantine.release', target: 'mx1/1', userId: session.userId },
    { action: 'mail.quarantine.delete', target: 'mx1/2', userId: session.userId },
    { action: 'mail.quarantine.delete', target: 'mx2/1', userId: session.userId },
  ]);
});

test('an event that is not the pending action supersedes it: a retention purge before the staff release reached the node', async () => {
  const { db, call, ship } = await setup();
  await ship('mx1', [{ type: 'quarantined', messageId: 'a', reason: 'spam', entry: entry(5) }]);
  const r = await call('POST', '/api/v1/mail/quarantine/mx1/5/release');
  assert.equal(r.status, 202);
  await ship('mx1', [{ type: 'purged', messageId: 'a', deliveryId: 5, reason: 'retention' }]);
  assert.deepEqual(db.prepare('SELECT state FROM quarantine_actions').all(), [{ state: 'superseded' }]);
  assert.deepEqual(db.prepare('SELECT status, purge_reason AS p FROM quarantine_index').all(), [{ status: 'purged', p: 'retention' }]);
  // A late 'released' for the same copy does not move it back.
  await ship('mx1', [{ type: 'released', messageId: 'a', deliveryId: 5, actionId: r.body.id }]);
  assert.deepEqual(db.prepare('SELECT status FROM quarantine_index').all(), [{ status: 'purged' }]);
});

test('an action the node refused (changed nothing) is resolved as refused: no longer handed out, shown, and the copy takes a new request', async () => {
  const { db, call, asNode, ship, list } = await setup();
  await ship('mx1', [{ type: 'quarantined', messageId: 'a', reason: 'spam', entry: entry(5) }]);
  const first = await call('POST', '/api/v1/mail/quarantine/mx1/5/release');
  assert.equal(first.status, 202);
  assert.deepEqual(
    (await asNode('mx1', 'GET', '/api/v1/mx/quarantine/actions')).body.actions.map((a: { id: number }) => a.id),
    [first.body.id],
  );
  await ship('mx1', [{ type: 'quarantine-refused', messageId: 'a', deliveryId: 5, actionId: first.body.id, why: 'not-quarantined' }]);
  assert.deepEqual(db.prepare('SELECT state, refused_why AS why FROM quarantine_actions').all(), [
    { state: 'refused', why: 'not-quarantined' },
  ]);
  assert.deepEqual((await asNode('mx1', 'GET', '/api/v1/mx/quarantine/actions')).body, { actions: [] });
  const [item] = (await list()).items;
  assert.equal(item.pending, null);
  assert.deepEqual(item.refused, { id: first.body.id, action: 'release', why: 'not-quarantined', at: (item.refused as { at: string }).at });
  // No 409 for ever: the copy takes a new request, and the refusal no longer shows once it is pending.
  const second = await call('POST', '/api/v1/mail/quarantine/mx1/5/delete');
  assert.equal(second.status, 202, JSON.stringify(second.body));
  const [again] = (await list()).items;
  assert.equal(again.refused, null);
  assert.equal((again.pending as { action: string }).action, 'delete');
  // A refusal for an action that is no longer pending (or not this copy's) changes nothing; the accounting line neither.
  await ship('mx1', [{ type: 'quarantine-refused', deliveryId: 6, actionId: second.body.id, why: 'virus' }]);
  assert.equal(db.prepare('SELECT state FROM quarantine_actions WHERE id = ?').pluck().get(second.body.id), 'pending');
  assert.equal(db.prepare("SELECT count(*) FROM telemetry_minutes WHERE outcome = 'quarantine-refused'").pluck().get(), 0);
});

test('a delivery id quarantined again under another message id (a rebuilt node database) is a new copy: replaced, old actions superseded', async () => {
  const { db, call, asNode, ship, list } = await setup();
  await ship('mx1', [{ type: 'quarantined', messageId: 'old', reason: 'spam', entry: entry(5, { subject: 'old copy' }) }]);
  const old = await call('POST', '/api/v1/mail/quarantine/mx1/5/release');
  assert.equal(old.status, 202);
  // The node's database is rebuilt: its ids start again, and delivery 5 is now another message.
  await ship('mx1', [{ type: 'quarantined', messageId: 'new', reason: 'spam', entry: entry(5, { subject: 'new copy' }) }]);
  const [item] = (await list()).items;
  assert.deepEqual([item.messageId, item.subject, item.status, item.pending], ['new', 'new copy', 'held', null]);
  assert.equal(db.prepare('SELECT state FROM quarantine_actions WHERE id = ?').pluck().get(old.body.id), 'superseded');
  // Never handed to the node for the new copy; a new request names the new message.
  assert.deepEqual((await asNode('mx1', 'GET', '/api/v1/mx/quarantine/actions')).body, { actions: [] });
  const fresh = await call('POST', '/api/v1/mail/quarantine/mx1/5/release');
  assert.equal(fresh.status, 202);
  assert.deepEqual((await asNode('mx1', 'GET', '/api/v1/mx/quarantine/actions')).body.actions, [
    { id: fresh.body.id, deliveryId: 5, messageId: 'new', action: 'release' },
  ]);
  // The same message id again is a replay: nothing changes, the pending action stays.
  await ship('mx1', [{ type: 'quarantined', messageId: 'new', reason: 'spam', entry: entry(5, { subject: 'changed' }) }]);
  assert.equal((await list()).items[0].subject, 'new copy');
  assert.equal(db.prepare('SELECT state FROM quarantine_actions WHERE id = ?').pluck().get(fresh.body.id), 'pending');
  // A late event of the old copy moves nothing of the new one.
  await ship('mx1', [{ type: 'purged', messageId: 'old', deliveryId: 5, reason: 'retention' }]);
  assert.equal((await list()).items[0].status, 'held');
  assert.equal(db.prepare('SELECT state FROM quarantine_actions WHERE id = ?').pluck().get(fresh.body.id), 'pending');
});

test('the index keeps copies that left the quarantine for its retention, then prunes them with their actions; held copies stay', async () => {
  const { h, db, call, ship } = await setup();
  const DAY = 86_400_000;
  const log = { info() {}, warn() {}, error() {} } as never;
  const prune = () => runQuarantineIndexPrune({ db, clock: h.now, log }, 90 * DAY);
  await ship('mx1', [
    { type: 'quarantined', messageId: 'a', reason: 'spam', entry: entry(1) },
    { type: 'quarantined', messageId: 'b', reason: 'spam', entry: entry(2) },
    { type: 'quarantined', messageId: 'c', reason: 'virus', entry: entry(3, { virus: 'Eicar-Signature', score: null }) },
  ]);
  const r = await call('POST', '/api/v1/mail/quarantine/mx1/1/release');
  assert.equal(r.status, 202);
  await ship('mx1', [
    { type: 'released', messageId: 'a', deliveryId: 1, actionId: r.body.id },
    { type: 'purged', messageId: 'b', deliveryId: 2, reason: 'retention' },
  ]);
  const rows = () => db.prepare('SELECT delivery_id AS id, status FROM quarantine_index ORDER BY delivery_id').all();
  h.advance(90 * DAY - 1_000);
  assert.equal(prune(), 0, 'not yet past the retention');
  assert.equal((rows() as unknown[]).length, 3);
  h.advance(2_000);
  assert.equal(prune(), 2);
  // the held virus copy stays however old (its node's retention purges it first), and the released copy's action went with it
  assert.deepEqual(rows(), [{ id: 3, status: 'held' }]);
  assert.equal(db.prepare('SELECT count(*) FROM quarantine_actions').pluck().get(), 0);
});

test('the accounting line counts a release as an inflow and balances through it', async () => {
  const { h, db, call, ship, beat } = await setup();
  const line = () => {
    const l = accounting(db, { from: h.now().getTime() - 3_600_000, to: h.now().getTime() + 1 }, h.now());
    assert.ok(l);
    return l;
  };
  await ship('mx1', [
    { type: 'accepted', messageId: 'm', deliveries: 2 },
    { type: 'quarantined', messageId: 'm', reason: 'spam', entry: entry(1) },
    { type: 'delivered', messageId: 'm', route: 'maildir', latencyMs: 20 },
  ]);
  await beat('mx1', 0);
  let l = line();
  assert.deepEqual([l.accepted, l.released, l.delivered, l.quarantined, l.queued, l.unaccounted], [2, 0, 1, 1, 0, 0]);

  h.advance(1_000);
  const r = await call('POST', '/api/v1/mail/quarantine/mx1/1/release');
  assert.equal(r.status, 202);
  await ship('mx1', [{ type: 'released', messageId: 'm', deliveryId: 1, actionId: r.body.id }]);
  await beat('mx1', 1); // the released copy waits in the queue
  l = line();
  assert.deepEqual([l.accepted, l.released, l.delivered, l.quarantined, l.queued, l.unaccounted], [2, 1, 1, 1, 1, 0]);

  h.advance(1_000);
  await ship('mx1', [{ type: 'delivered', messageId: 'm', route: 'maildir', latencyMs: 2_000 }]);
  await beat('mx1', 0);
  l = line();
  assert.deepEqual([l.accepted, l.released, l.delivered, l.quarantined, l.queued, l.unaccounted], [2, 1, 2, 1, 0, 0]);

  // The minutes hold no 'released' or 'purged' outcome (their CHECK has none): the index and the line count them.
  assert.deepEqual(
    db.prepare("SELECT count(*) AS n FROM telemetry_minutes WHERE outcome NOT IN ('accepted', 'quarantined', 'delivered')").get(),
    { n: 0 },
  );
});

test('the heartbeat keeps whether the node scans; a node that does not say stores nothing either way', async () => {
  const { db, beat } = await setup();
  await beat('mx1', 0, 'off');
  await beat('mx2', 0);
  assert.deepEqual(
    db.prepare('SELECT n.name, h.scanning FROM telemetry_heartbeats h JOIN mx_nodes n ON n.id = h.node_id ORDER BY n.name').all(),
    [
      { name: 'mx1', scanning: 'off' },
      { name: 'mx2', scanning: null },
    ],
  );
});

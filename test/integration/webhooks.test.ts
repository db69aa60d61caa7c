// Webhooks (issue 14) in process: staff register endpoints over the API (the secret shown once, bad URLs refused as
// problem details), the consumer fans each event out once per matching endpoint, the sender signs (checked by a
// receiver that verifies Standard Webhooks itself), retries on the default schedule and disables after repeated failures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { makeHarness } from './api-harness.ts';
import { recordNotifyEvent } from '#server/store/notify.ts';
import { runWebhookFanout, runWebhookSends, type WebhookOptions } from '#server/jobs/webhooks.ts';
import { startReceiver, verifyStandardWebhook } from '../support/webhook-receiver.ts';
import { addHookByApi as addHook, notifyPayload as payload } from '../support/webhook-rows.ts';

const log = pino({ level: 'silent' });
const ALLOW = { TIDINGS_WEBHOOK_ALLOW_PRIVATE: 'on' };

function sectionId(h: ReturnType<typeof makeHarness>, slug: string): number {
  return (h.db.prepare('SELECT id FROM sections WHERE slug = ?').get(slug) as { id: number }).id;
}

function anySection(h: ReturnType<typeof makeHarness>, not: number): { id: number; slug: string; name: string } {
  return h.db.prepare('SELECT id, slug, name FROM sections WHERE id != ? ORDER BY id LIMIT 1').get(not) as never;
}

test('the API adds a webhook with a whsec_ secret shown only in that answer; bad URLs are 400 problem details', async () => {
  const h = makeHarness();
  const s = await h.admin();
  const ok = await h.request('POST', '/api/v1/webhooks', {
    session: s,
    body: { url: 'https://hooks.example.net/tidings', section: 'email' },
  });
  assert.equal(ok.status, 201);
  const created = (await ok.json()) as { id: number; secret: string; section: { slug: string } };
  assert.match(created.secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
  assert.ok(Buffer.from(created.secret.slice(6), 'base64').length >= 24);
  assert.equal(created.section.slug, 'email');
  const list = await h.request('GET', '/api/v1/webhooks', { session: s });
  const one = await h.request('GET', `/api/v1/webhooks/${created.id}`, { session: s });
  for (const text of [await list.text(), await one.text()])
    assert.ok(!text.includes(created.secret.slice(6)), 'the secret is never shown again');
  const audit = h.db.prepare(`SELECT detail FROM audit_log WHERE action = 'webhook.add'`).all() as { detail: string }[];
  assert.equal(audit.length, 1);
  assert.ok(!audit[0].detail.includes(created.secret.slice(6)), 'nor written to the audit log');

  const bad: [object, string][] = [
    [{ url: 'ftp://hooks.example.net/x' }, 'url'],
    [{ url: 'not a url' }, 'url'],
    [{ url: 'https://user:pw@hooks.example.net/' }, 'url'],
    [{ url: 'http://127.0.0.1:9/hook' }, 'url'],
    [{ url: 'http://[::1]/hook' }, 'url'],
    [{ url: 'http://10.1.2.3/hook' }, 'url'],
    [{ url: 'http://169.254.169.254/latest/meta-data' }, 'url'],
    [{ url: 'http://[::ffff:127.0.0.1]/hook' }, 'url'],
    [{ url: 'http://localhost:8080/hook' }, 'url'],
    [{ url: 'https://hooks.example.net/', section: 'no-such-section' }, 'section'],
    [{ url: 'https://hooks.example.net/', extra: 1 }, 'extra'],
  ];
  for (const [body, field] of bad) {
    const res = await h.request('POST', '/api/v1/webhooks', { session: s, body });
    const text = await res.text();
    assert.equal(res.status, 400, `${JSON.stringify(body)}: ${text}`);
    assert.equal(res.headers.get('content-type'), 'application/problem+json');
    const problem = JSON.parse(text) as { detail: string; errors: { field: string }[] };
    assert.ok(problem.detail.length > 0);
    assert.ok(
      problem.errors.some((e) => e.field === field),
      `${JSON.stringify(body)} names ${field}: ${text}`,
    );
  }
  assert.equal((h.db.prepare('SELECT count(*) AS n FROM webhook_endpoints').get() as { n: number }).n, 1, 'nothing else stored');
  assert.equal((await h.request('GET', '/api/v1/webhooks')).status, 401, 'staff only');
  // The operator setting lets loopback URLs in (the tests' receivers live there).
  const open = makeHarness({ env: ALLOW });
  const res = await open.request('POST', '/api/v1/webhooks', { session: await open.admin(), body: { url: 'http://127.0.0.1:9/hook' } });
  assert.equal(res.status, 201);
});

test('each event reaches each matching endpoint once, signed; a receiver failing twice gets it on the third try (5 s, 30 s)', async (t) => {
  const h = makeHarness({ env: ALLOW });
  const s = await h.admin();
  const email = sectionId(h, 'email');
  const other = anySection(h, email);
  const secretOf = new Map<number, string>();
  const endpointOf = (id: string) => Number(id.split('_')[3]);
  const fails = new Map<string, number>();
  const rx = await startReceiver({
    secret: (id) => secretOf.get(endpointOf(id)) ?? 'whsec_',
    clock: () => h.now().getTime(),
    // The first event fails twice with a 500, then is taken.
    answer: (_n, id) => {
      const seen = fails.get(id) ?? 0;
      fails.set(id, seen + 1);
      return id.startsWith('msg_tidings_1_') && seen < 2 ? 500 : 200;
    },
  });
  t.after(() => rx.close());
  const all = await addHook(h, s, { url: rx.url });
  const emailOnly = await addHook(h, s, { url: `${rx.url}?section=email`, section: 'email' });
  assert.notEqual(all.secret, emailOnly.secret);
  secretOf.set(all.id, all.secret).set(emailOnly.id, emailOnly.secret);
  const deps = { db: h.db, clock: h.now, log };
  const opts: WebhookOptions = { allowPrivate: true, resolve: async () => [], timeoutMs: 5_000 };
  const at = h.now().toISOString();
  const e1 = recordNotifyEvent(h.db, {
    kind: 'comment',
    taskId: 2733,
    sectionId: email,
    at,
    payload: payload('e1', { slug: 'email', name: 'Email' }),
  });
  const e2 = recordNotifyEvent(h.db, { kind: 'section-state', taskId: null, sectionId: other.id, at, payload: payload('e2', other) });
  assert.deepEqual([e1, e2], [1, 2]);
  assert.equal(runWebhookFanout(deps), 3, 'e1 to both endpoints, e2 to the one for everything');
  assert.equal(runWebhookFanout(deps), 0, 'the cursor moved: nothing twice');
  const send = () => runWebhookSends(deps, opts);
  assert.equal(await send(), 3);
  assert.equal(rx.requests.length, 3);
  h.advance(4_999);
  assert.equal(await send(), 0, 'no retry before 5 s');
  h.advance(1);
  assert.equal(await send(), 2, 'both deliveries of e1 retried after 5 s');
  h.advance(29_999);
  assert.equal(await send(), 0);
  h.advance(1);
  assert.equal(await send(), 2, 'and again 30 s later');
  h.advance(3_600_000);
  assert.equal(await send(), 0, 'then nothing is left');

  // Every request verified (the receiver answers 401 otherwise) with its own endpoint's secret, never the other's.
  assert.equal(rx.requests.length, 7);
  for (const r of rx.requests) {
    assert.ok(r.verified, `signature of ${r.id}`);
    const wrong = secretOf.get(endpointOf(r.id) === all.id ? emailOnly.id : all.id) ?? '';
    assert.ok(!verifyStandardWebhook(wrong, r.headers, r.body, r.timestamp));
  }
  assert.deepEqual(
    [...rx.accepted()].sort(),
    [`msg_tidings_1_${all.id}`, `msg_tidings_1_${emailOnly.id}`, `msg_tidings_2_${all.id}`].sort(),
    'e1 at both endpoints, e2 (another section) only at the one for everything',
  );
  const e1Body = rx.requests.find((r) => r.id === `msg_tidings_1_${all.id}`)!;
  assert.equal(e1Body.json.type, 'comment');
  assert.equal(e1Body.json.timestamp, at);
  assert.equal(e1Body.json.data.eventId, 1);
  assert.equal(e1Body.json.data.subject, 'e1');
  assert.ok(!('html' in e1Body.json.data), 'no HTML in the payload');
  assert.equal(e1Body.headers['content-type'], 'application/json');
  // The same body on every attempt; the timestamp header is the attempt's.
  const tries = rx.requests.filter((r) => r.id === `msg_tidings_1_${all.id}`);
  assert.deepEqual(
    tries.map((r) => r.answered),
    [500, 500, 200],
  );
  assert.equal(new Set(tries.map((r) => r.body)).size, 1);
  assert.deepEqual(
    tries.map((r) => r.timestamp - tries[0].timestamp),
    [0, 5, 35],
  );
  // The delivery log staff read.
  const log1 = await h.request('GET', `/api/v1/webhooks/${all.id}`, { session: s });
  const view = (await log1.json()) as {
    enabled: boolean;
    attempts: { eventId: number; attempt: number; status: number; error: string | null; durationMs: number; state: string }[];
  };
  assert.equal(view.enabled, true);
  const e1Log = view.attempts.filter((a) => a.eventId === 1).sort((a, b) => a.attempt - b.attempt);
  assert.deepEqual(
    e1Log.map((a) => [a.attempt, a.status, a.error, a.state]),
    [
      [1, 500, 'HTTP 500', 'delivered'],
      [2, 500, 'HTTP 500', 'delivered'],
      [3, 200, null, 'delivered'],
    ],
  );
  assert.ok(e1Log.every((a) => Number.isInteger(a.durationMs) && a.durationMs >= 0));
});

test('deliveries that fail to the end 3 times in a row disable the endpoint; staff enable it and the queue goes out', async (t) => {
  const h = makeHarness({ env: ALLOW });
  const s = await h.admin();
  let up = false;
  const secretOf = new Map<number, string>();
  const rx = await startReceiver({
    secret: (id) => secretOf.get(Number(id.split('_')[3])) ?? 'whsec_',
    clock: () => h.now().getTime(),
    answer: () => (up ? 200 : 503),
  });
  t.after(() => rx.close());
  const hook = await addHook(h, s, { url: rx.url });
  secretOf.set(hook.id, hook.secret);
  const deps = { db: h.db, clock: h.now, log };
  // One retry after 5 s, then the delivery has failed; three such in a row disable the endpoint.
  const opts: WebhookOptions = { allowPrivate: true, resolve: async () => [], retryDelaysMs: [5_000], disableAfter: 3 };
  const event = (subject: string) =>
    recordNotifyEvent(h.db, { kind: 'comment', taskId: 2733, sectionId: null, at: h.now().toISOString(), payload: payload(subject) });
  // One at a time (concurrency 1): each event's two attempts fail, then the next event comes.
  const one = { ...opts, concurrency: 1 };
  for (let i = 1; i <= 3; i++) {
    event(`e${i}`);
    runWebhookFanout(deps);
    assert.equal(await runWebhookSends(deps, one), 1);
    h.advance(5_000);
    if (i === 3) {
      event('e4'); // queued behind e3's last attempt
      runWebhookFanout(deps);
    }
    assert.equal(await runWebhookSends(deps, one), 1);
  }
  const view = async () =>
    (await (await h.request('GET', `/api/v1/webhooks/${hook.id}`, { session: s })).json()) as {
      enabled: boolean;
      consecutiveFailures: number;
      disabledReason: string;
      attempts: { state: string }[];
    };
  const disabled = await view();
  assert.equal(disabled.enabled, false);
  assert.equal(disabled.consecutiveFailures, 3);
  assert.match(disabled.disabledReason, /3 deliveries in a row failed \(last: HTTP 503\)/);
  assert.equal(disabled.attempts.length, 6);
  h.advance(60_000);
  assert.equal(await runWebhookSends(deps, opts), 0, 'a disabled endpoint gets nothing');
  recordNotifyEvent(h.db, {
    kind: 'comment',
    taskId: 2733,
    sectionId: null,
    at: h.now().toISOString(),
    payload: payload('while disabled'),
  });
  assert.equal(runWebhookFanout(deps), 0, 'nor new deliveries');
  up = true;
  assert.equal((await h.request('POST', `/api/v1/webhooks/${hook.id}/enable`, { session: s })).status, 200);
  const enabled = await view();
  assert.equal(enabled.enabled, true);
  assert.equal(enabled.consecutiveFailures, 0);
  assert.equal(await runWebhookSends(deps, opts), 1, 'the fourth event, still queued, goes out');
  assert.deepEqual([...rx.accepted()], [`msg_tidings_4_${hook.id}`]);
  assert.equal((await h.request('POST', `/api/v1/webhooks/${hook.id}/disable`, { session: s })).status, 200);
  assert.equal((await view()).enabled, false);
  assert.equal((await h.request('DELETE', `/api/v1/webhooks/${hook.id}`, { session: s })).status, 200);
  assert.equal((await h.request('GET', `/api/v1/webhooks/${hook.id}`, { session: s })).status, 404);
});

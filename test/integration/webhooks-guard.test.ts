// Webhook addresses (issue 14): with TIDINGS_WEBHOOK_ALLOW_PRIVATE off the sender resolves the host with the injected
// resolver (never real DNS), checks every address and refuses non-public ones before connecting; with it on, it connects
// to the address it checked. No redirect is followed, and a receiver that never answers times out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { makeHarness } from './api-harness.ts';
import { recordNotifyEvent } from '#server/store/notify.ts';
import { runWebhookFanout, runWebhookSends } from '#server/jobs/webhooks.ts';
import { startReceiver } from '../support/webhook-receiver.ts';
import { addHookByApi as addHook, notifyPayload as payload } from '../support/webhook-rows.ts';

const log = pino({ level: 'silent' });
const ALLOW = { TIDINGS_WEBHOOK_ALLOW_PRIVATE: 'on' };

test('with TIDINGS_WEBHOOK_ALLOW_PRIVATE off, a host resolving to a private address is refused before any connection', async (t) => {
  const h = makeHarness({ env: ALLOW }); // registration allowed; the sender below runs with the setting off
  const s = await h.admin();
  const secretOf = new Map<number, string>();
  const rx = await startReceiver({ secret: (id) => secretOf.get(Number(id.split('_')[3])) ?? 'whsec_', clock: () => h.now().getTime() });
  t.after(() => rx.close());
  const zone: Record<string, string[]> = {
    'hooks.example.test': ['127.0.0.1'],
    'mixed.example.test': ['2606:4700:4700::1111', '10.0.0.7'],
    'mapped.example.test': ['::ffff:127.0.0.1'],
  };
  const resolved: string[] = [];
  const resolve = async (host: string) => {
    resolved.push(host);
    return (zone[host] ?? []).map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  const hooks = [];
  for (const url of [
    `http://hooks.example.test:${rx.port}/hook`,
    'https://mixed.example.test/hook',
    `http://mapped.example.test:${rx.port}/hook`,
    `http://127.0.0.1:${rx.port}/hook`,
    `http://[::1]:${rx.port}/hook`,
    'http://nxdomain.example.test/hook',
  ]) {
    const hook = await addHook(h, s, { url });
    secretOf.set(hook.id, hook.secret);
    hooks.push(hook.id);
  }
  const deps = { db: h.db, clock: h.now, log };
  recordNotifyEvent(h.db, { kind: 'comment', taskId: 2733, sectionId: null, at: h.now().toISOString(), payload: payload('private') });
  runWebhookFanout(deps);
  assert.equal(await runWebhookSends(deps, { allowPrivate: false, resolve, retryDelaysMs: [] }), hooks.length);
  assert.equal(rx.requests.length, 0, 'nothing reached the receiver');
  assert.deepEqual(resolved.sort(), ['hooks.example.test', 'mapped.example.test', 'mixed.example.test', 'nxdomain.example.test']);
  const errors = h.db
    .prepare(
      'SELECT d.endpoint_id AS id, a.error, a.status FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id ORDER BY d.endpoint_id',
    )
    .all() as {
    id: number;
    error: string;
    status: number | null;
  }[];
  assert.deepEqual(
    errors.map((e) => [e.status, e.error]),
    [
      [null, 'refused: hooks.example.test has the loopback address 127.0.0.1 (TIDINGS_WEBHOOK_ALLOW_PRIVATE is off)'],
      [null, 'refused: mixed.example.test has the private address 10.0.0.7 (TIDINGS_WEBHOOK_ALLOW_PRIVATE is off)'],
      [null, 'refused: mapped.example.test has the loopback (in IPv6) address ::ffff:127.0.0.1 (TIDINGS_WEBHOOK_ALLOW_PRIVATE is off)'],
      [null, 'refused: 127.0.0.1 has the loopback address 127.0.0.1 (TIDINGS_WEBHOOK_ALLOW_PRIVATE is off)'],
      [null, 'refused: ::1 has the loopback address ::1 (TIDINGS_WEBHOOK_ALLOW_PRIVATE is off)'],
      [null, 'cannot resolve nxdomain.example.test: no address'],
    ],
  );
  // With the setting on, the name only the injected resolver knows is reached at the address it gave, Host intact.
  recordNotifyEvent(h.db, { kind: 'comment', taskId: 2733, sectionId: null, at: h.now().toISOString(), payload: payload('allowed') });
  h.db.prepare('DELETE FROM webhook_endpoints WHERE id != ?').run(hooks[0]);
  runWebhookFanout(deps);
  assert.equal(await runWebhookSends(deps, { allowPrivate: true, resolve }), 1);
  assert.equal(rx.requests.length, 1);
  assert.equal(rx.requests[0].headers.host, `hooks.example.test:${rx.port}`);
  assert.ok(rx.requests[0].verified);
});

test('a redirect is not followed and a receiver that never answers times out; both count as failed attempts', async (t) => {
  const h = makeHarness({ env: ALLOW });
  const s = await h.admin();
  const secretOf = new Map<number, string>();
  let hooks: number[] = [];
  const rx = await startReceiver({
    secret: (id) => secretOf.get(Number(id.split('_')[3])) ?? 'whsec_',
    clock: () => h.now().getTime(),
    answer: (_n, id) => (Number(id.split('_')[3]) === hooks[0] ? 302 : 'hang'),
  });
  t.after(() => rx.close());
  for (const url of [`${rx.url}?redirect`, `${rx.url}?hang`]) {
    const hook = await addHook(h, s, { url });
    secretOf.set(hook.id, hook.secret);
  }
  hooks = [...secretOf.keys()];
  const deps = { db: h.db, clock: h.now, log };
  recordNotifyEvent(h.db, { kind: 'comment', taskId: 2733, sectionId: null, at: h.now().toISOString(), payload: payload('x') });
  runWebhookFanout(deps);
  assert.equal(await runWebhookSends(deps, { allowPrivate: true, resolve: async () => [], timeoutMs: 300 }), 2);
  const rows = h.db
    .prepare(
      'SELECT a.status, a.error, a.duration_ms AS ms FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id ORDER BY d.endpoint_id',
    )
    .all() as {
    status: number | null;
    error: string;
    ms: number;
  }[];
  assert.equal(rows[0].status, 302);
  assert.match(rows[0].error, /^redirect to .* not followed$/);
  assert.equal(rows[1].status, null);
  assert.equal(rows[1].error, 'timed out after 300 ms');
  assert.ok(rows[1].ms >= 290, `waited ${rows[1].ms} ms`);
  assert.equal(rx.requests.length, 2, 'the redirect target was never asked');
});

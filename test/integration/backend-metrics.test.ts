// The backend's GET /metrics through the real app: strict text format, HTTP request counters by route pattern,
// telemetry ingest counters (applied events, batches by result including refusals), and who may read it: loopback
// requests no proxy passed on, or TIDINGS_METRICS_TOKEN as a bearer token from anywhere. Never behind /api/v1's gate.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TelemetryEvent } from '#data/contracts/telemetry.ts';
import { issueNodeToken } from '#server/services/mail/issueNodeToken.ts';
import { startServerMain } from '../support/server-main.ts';
import { parseExposition, sampleSum, sampleValue, type Family } from '../support/prom-text.ts';
import { makeHarness } from './api-harness.ts';

const START = '2026-01-15T12:00:00.000Z';
const T0 = Date.parse(START);

async function scrape(h: ReturnType<typeof makeHarness>, o: { ip?: string; headers?: Record<string, string> } = {}) {
  const res = await h.request('GET', '/metrics', { ip: o.ip ?? '127.0.0.1', headers: o.headers });
  return res;
}

async function parsed(res: Response): Promise<Map<string, Family>> {
  assert.equal(res.status, 200, await res.clone().text());
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4; charset=utf-8$/);
  return parseExposition(await res.text());
}

test('loopback scrape: counters move with HTTP requests and telemetry batches, by result', async () => {
  const h = makeHarness({ start: START });
  const token = issueNodeToken({ ctx: h.ctx, actor: { userId: null, name: 'test' }, name: 'mx1' });
  const first = await parsed(await scrape(h));
  assert.equal(sampleSum(first, 'tidings_telemetry_events_applied_total'), 0);

  const events: TelemetryEvent[] = [
    { seq: 1, at: T0 - 5_000, type: 'accepted', messageId: 'm1' },
    { seq: 2, at: T0 - 4_000, type: 'delivered', messageId: 'm1', route: 'maildir', latencyMs: 40 },
    { seq: 3, at: T0 - 3_000, type: 'rejected', reason: 'unknown-user' },
  ];
  const post = (body: unknown, tok = token) =>
    h.request('POST', '/api/v1/telemetry', { body, headers: { authorization: `Bearer ${tok}` } });
  assert.equal((await post({ after: 0, events })).status, 200);
  assert.equal((await post({ after: 0, events })).status, 200, 'a replay is acknowledged, nothing applied');
  assert.equal((await post({ after: 9, events: [{ seq: 10, at: T0 - 1_000, type: 'accepted', messageId: 'm2' }] })).status, 409);
  assert.equal((await post({ after: 3, events: 'no' })).status, 400);
  assert.equal((await post({ after: 3, events }, 'not-the-token')).status, 401);
  assert.equal((await h.request('GET', '/api/v1/nowhere/at/all')).status, 404);

  const f = await parsed(await scrape(h));
  assert.equal(sampleValue(f, 'tidings_telemetry_events_applied_total'), 3, 'the replay applied nothing');
  assert.equal(sampleValue(f, 'tidings_telemetry_batches_total', { result: 'applied' }), 2);
  assert.equal(sampleValue(f, 'tidings_telemetry_batches_total', { result: 'gap' }), 1);
  assert.equal(sampleValue(f, 'tidings_telemetry_batches_total', { result: 'malformed' }), 1);
  assert.equal(sampleValue(f, 'tidings_telemetry_batches_total', { result: 'bad-token' }), 1);
  assert.equal(sampleSum(f, 'tidings_telemetry_batches_total'), 5);
  // The route label is the pattern that matched, and the status the one answered.
  const posts = (status: string) =>
    sampleValue(f, 'tidings_http_requests_total', { method: 'POST', route: '/api/v1/telemetry', status }) ?? 0;
  assert.deepEqual([posts('200'), posts('409'), posts('400'), posts('401')], [2, 1, 1, 1]);
  assert.equal(sampleValue(f, 'tidings_http_requests_total', { method: 'GET', route: '/metrics', status: '200' }), 1);
  // An unknown path is labelled with the catch-all pattern it fell to (the site's '/*'), never with the raw path.
  assert.equal(sampleValue(f, 'tidings_http_requests_total', { method: 'GET', route: '/*', status: '404' }), 1);
  assert.equal(sampleValue(f, 'tidings_http_request_duration_seconds_count', { method: 'POST', route: '/api/v1/telemetry' }), 5);
  // Every request before this scrape was counted: 1 scrape + 5 posts + 1 404.
  assert.equal(sampleSum(f, 'tidings_http_requests_total'), 7);
  assert.ok(f.get('process_cpu_seconds_total'), 'default process metrics');
});

test('access without a token: loopback only, and not when a proxy passed the request on', async () => {
  const h = makeHarness({ start: START });
  for (const [what, o] of [
    ['another address', { ip: '192.0.2.1' }],
    ['IPv6 from elsewhere', { ip: '2001:db8::1' }],
    ['loopback via a proxy (X-Forwarded-For)', { ip: '127.0.0.1', headers: { 'x-forwarded-for': '203.0.113.9' } }],
    ['loopback via a proxy (Forwarded)', { ip: '127.0.0.1', headers: { forwarded: 'for=203.0.113.9' } }],
  ] as const) {
    const res = await scrape(h, o);
    assert.equal(res.status, 403, what);
    assert.match(res.headers.get('content-type') ?? '', /application\/problem\+json/, what);
    assert.doesNotMatch(await res.text(), /tidings_/, what);
  }
  assert.equal((await scrape(h, { ip: '::1' })).status, 200);
  assert.equal((await scrape(h, { ip: '::ffff:127.0.0.1' })).status, 200);
});

test('access with TIDINGS_METRICS_TOKEN: the bearer token from anywhere, nothing without it, loopback included', async () => {
  const secret = 'metrics-secret-0123456789';
  const h = makeHarness({ start: START, env: { TIDINGS_METRICS_TOKEN: secret } });
  const none = await scrape(h);
  assert.equal(none.status, 401);
  assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer /);
  assert.equal((await scrape(h, { headers: { authorization: 'Bearer metrics-secret-012345678X' } })).status, 401);
  assert.equal((await scrape(h, { headers: { authorization: `Bearer ${secret}x` } })).status, 401);
  await parsed(await scrape(h, { ip: '192.0.2.1', headers: { authorization: `Bearer ${secret}` } }));
});

test('server/main.ts as a process: loopback scrape over a real socket, cached public pages counted too', { timeout: 240_000 }, async () => {
  const temp = mkdtempSync(join(tmpdir(), 'tidings-backend-metrics-'));
  const server = await startServerMain({ TIDINGS_ROLE: 'backend', TIDINGS_STATE_DIR: join(temp, 'state') });
  try {
    // The second GET / is answered from the page cache, before Hono (server/main.ts's fast path).
    for (let i = 0; i < 3; i++) await (await fetch(`${server.url}/`)).text();
    const f = await parsed(await fetch(`${server.url}/metrics`));
    // This scrape is counted once it has answered, so the GETs so far are the three page views.
    const pages = sampleSum(f, 'tidings_http_requests_total', { method: 'GET', status: '200' });
    assert.equal(pages, 3, 'every page view counted once, by Hono or by the fast path');
    assert.ok((sampleValue(f, 'tidings_http_requests_total', { method: 'GET', route: '(cached page)', status: '200' }) ?? 0) >= 1);
    // Proxied (X-Forwarded-For) over the same loopback socket: refused.
    const proxied = await fetch(`${server.url}/metrics`, { headers: { 'x-forwarded-for': '203.0.113.9' } });
    assert.equal(proxied.status, 403);
    await proxied.text();
  } finally {
    await server.stop();
    rmSync(temp, { recursive: true, force: true });
  }
});

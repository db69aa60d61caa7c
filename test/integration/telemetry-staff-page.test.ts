// /staff/mail's Telemetry section: each MX node's cursor, latest heartbeat and gauges, and the refusal counters
// (the node-less bad-token one included), all escaped: a node named like markup shows as text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeStaffHarness, visibleText } from './staff-harness.ts';
import { upsertNodeToken } from '#server/store/mail.ts';
import { hashNodeToken } from '#server/services/mail/issueNodeToken.ts';
import type { TelemetryEvent, TelemetryHeartbeat } from '#data/contracts/telemetry.ts';

const START = '2026-01-15T12:00:00.000Z';
const T0 = Date.parse(START);
const EVIL = '<script>alert(1)</script>';

test('staff see each node’s cursor, heartbeat gauges and refusal counts, escaped', async () => {
  const h = makeStaffHarness({ start: START, env: { TIDINGS_DISPLAY_TZ: 'UTC' } });
  await h.addUser('sam', 'staff');
  const b = h.browser();
  await b.login('sam');
  assert.match(
    visibleText((await b.get('/staff/mail')).text),
    /Telemetry .*No MX node has a token yet.*No MX node request has been refused/,
  );

  // The CLI refuses such a name; the store does not, and the page must not trust it either.
  upsertNodeToken(h.db, EVIL, hashNodeToken('evil-token'), START);
  upsertNodeToken(h.db, 'mx-quiet', hashNodeToken('quiet-token'), START);
  const post = (path: string, body: unknown, token: string) =>
    h.app.request(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
    });
  const events: TelemetryEvent[] = [
    { seq: 1, at: T0 - 30_000, type: 'accepted', messageId: 'm1' },
    { seq: 2, at: T0 - 20_000, type: 'delivered', messageId: 'm1', route: 'maildir', latencyMs: 40 },
  ];
  assert.equal((await post('/api/v1/telemetry', { after: 0, events }, 'evil-token')).status, 200);
  const beat: TelemetryHeartbeat = {
    at: T0,
    queueDepth: 17,
    oldestQueuedMs: 125_000,
    inRetry: 4,
    configVersion: 23,
    lastSyncAt: T0 - 60_000,
    lastSeq: 9,
  };
  assert.equal((await post('/api/v1/telemetry/heartbeat', beat, 'evil-token')).status, 200);
  assert.equal((await post('/api/v1/telemetry', { after: 5, events: [{ ...events[0], seq: 6 }] }, 'evil-token')).status, 409);
  assert.equal((await post('/api/v1/telemetry', { after: 0, events }, 'wrong')).status, 401);
  assert.equal((await post('/api/v1/telemetry', { after: 0, events }, 'wrong')).status, 401);
  h.advance(90_000);

  const { status, text: page } = await b.get('/staff/mail');
  assert.equal(status, 200);
  assert.ok(!page.includes(EVIL), 'the node name is never markup');
  assert.ok(page.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
  const text = visibleText(page);
  assert.match(
    text,
    /MX nodes: shipped events and latest heartbeat Node Events held up to seq Last heartbeat Queue depth Oldest queued In retry Config version Last config sync Events not yet shipped/,
  );
  // cursor 2; heard from at 12:00, 90 s ago; queue 17, oldest 125 s, 4 in retry, config 23 synced 11:59; 9 - 2 unshipped.
  assert.ok(text.includes(`${EVIL} 2 2026-01-15 12:00 (1 min ago) 17 2 min 4 23 2026-01-15 11:59 7`), text.slice(text.indexOf('MX nodes')));
  assert.match(text, /mx-quiet none yet none yet/);
  assert.match(text, /Refused MX node requests, by node and reason Node Reason Count Last refused/);
  assert.match(text, /no valid token missing, wrong or revoked node token \(401; config sync included\) 2 2026-01-15 12:00/);
  assert.ok(text.includes(`${EVIL} sequence gap, told to resend (409) 1 2026-01-15 12:00`), text.slice(text.indexOf('Refused')));
  // Accessible tables: captions, and headers scoped to their columns and rows.
  assert.equal((page.match(/<caption>/g) ?? []).length, 2);
  assert.match(page, /<th scope="row">&lt;script&gt;alert\(1\)&lt;\/script&gt;<\/th>/);
});

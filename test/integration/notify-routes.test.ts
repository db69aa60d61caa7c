// Issue 14 through the real app: the staff API's writes announce their changes with links on TIDINGS_PUBLIC_URL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NotifyPayload } from '#data/contracts/notify.ts';
import { makeHarness } from './api-harness.ts';

test('a comment and an override through /api/v1 each leave one event linking to the configured public URL', async () => {
  const h = makeHarness({ publicUrl: 'https://status.example.net' });
  const s = await h.admin();
  const events = () =>
    (h.db.prepare('SELECT kind, payload FROM notify_events ORDER BY id').all() as { kind: string; payload: string }[]).map((r) => ({
      kind: r.kind,
      ...(JSON.parse(r.payload) as NotifyPayload),
    }));
  const res = await h.request('POST', '/api/v1/tasks/2733/comments', { session: s, body: { body: 'Phase **two** starts.' } });
  assert.equal(res.status, 201, await res.clone().text());
  let ev = events();
  assert.equal(ev.length, 1);
  assert.equal(ev[0].kind, 'comment');
  assert.equal(ev[0].subject, 'FS#2733 Reworking / Scaling mailsystem inbound: new comment');
  assert.equal(ev[0].url, 'https://status.example.net/task/2733');
  assert.ok(ev[0].html.includes('<p>Phase <strong>two</strong> starts.</p>'));

  const put = await h.request('PUT', '/api/v1/sections/email/override', {
    session: s,
    body: { state: 'issues', note: 'Delays <inbound>', expiresAt: '2026-01-15T13:00:00Z' },
  });
  assert.equal(put.status, 200, await put.clone().text());
  ev = events();
  assert.equal(ev.length, 2);
  assert.equal(ev[1].kind, 'section-state');
  assert.equal(ev[1].url, 'https://status.example.net/section/email');
  assert.equal(ev[1].subject, 'Email: active issues or failures');
  assert.ok(ev[1].html.includes('Delays &lt;inbound&gt;'));
});

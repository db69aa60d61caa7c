// Webhook rows for page tests: an endpoint per kind of state (enabled with a section, disabled by staff, disabled after
// failures) and a delivery log with a delivered and a failed attempt whose error holds markup, so pages show every part.
import assert from 'node:assert/strict';
import pino from 'pino';
import type { NotifyPayload } from '#data/contracts/notify.ts';
import type { RequestOptions, Session } from '../integration/api-harness.ts';
import type { DB } from '#data/db.ts';
import { createChangeCounter } from '#server/deps.ts';
import { recordNotifyEvent } from '#server/store/notify.ts';
import { claimDueWebhooks, recordWebhookAttempt } from '#server/store/webhooks.ts';
import { addWebhook } from '#server/services/webhooks/addWebhook.ts';
import { setWebhookEnabled } from '#server/services/webhooks/changeWebhook.ts';
import { runWebhookFanout } from '#server/jobs/webhooks.ts';

export function seedWebhooks(db: DB, clock: () => Date): void {
  const ctx = { db, clock, changes: createChangeCounter() };
  const cli = { userId: null, name: 'cli' };
  const add = (url: string, section: string | null) =>
    addWebhook({ ctx, actor: cli, input: { url, section, description: 'ops <team>' }, allowPrivate: false }).webhook;
  const ok = add('https://hooks.example.net/tidings?tag=<b>', 'email');
  const off = add('https://other.example.net/hook', null);
  const failing = add('https://failing.example.net/hook', null);
  setWebhookEnabled({ ctx, actor: cli, id: off.id, enabled: false });
  const section = db.prepare(`SELECT id, slug, name FROM sections WHERE slug = 'email'`).get() as {
    id: number;
    slug: string;
    name: string;
  };
  recordNotifyEvent(db, {
    kind: 'section-state',
    taskId: null,
    sectionId: section.id,
    at: clock().toISOString(),
    payload: {
      subject: 'Email: active issues',
      text: 'x',
      html: '<p>x</p>',
      url: 'http://localhost:8080/',
      task: null,
      section,
      changes: [],
    },
  });
  runWebhookFanout({ db, clock, log: pino({ level: 'silent' }) });
  for (const d of claimDueWebhooks(db, clock().getTime(), 10_000, 10)) {
    const result =
      d.endpointId === ok.id ? { status: 204, error: null, durationMs: 42 } : { status: 502, error: 'HTTP 502 <html>', durationMs: 1234 };
    recordWebhookAttempt(db, d, result, clock(), { retryDelaysMs: [], disableAfter: 1 });
  }
  void failing;
}

/** A notify_events payload for tests (data/contracts/notify.ts). */
export function notifyPayload(subject: string, section: { slug: string; name: string } | null = null): NotifyPayload {
  return {
    subject,
    text: `${subject}\n`,
    html: `<p>${subject}</p>`,
    url: 'http://localhost:8080/task/2733',
    task: null,
    section,
    changes: [],
  };
}

/** POST /api/v1/webhooks through a test harness's request(); asserts the 201 and returns the id and the secret. */
export async function addHookByApi(
  h: { request(method: string, path: string, o?: RequestOptions): Promise<Response> },
  session: Session,
  body: object,
): Promise<{ id: number; secret: string }> {
  const res = await h.request('POST', '/api/v1/webhooks', { session, body });
  assert.equal(res.status, 201, await res.clone().text());
  return (await res.json()) as { id: number; secret: string };
}

// The webhook consumer of notify_events: the fan-out (one delivery per event and matching enabled endpoint, created in
// the transaction that advances the 'webhook' cursor) and the sender (signed POSTs with retries), run by one loop.
import type { NotifyPayload } from '#data/contracts/notify.ts';
import { webhookId, type WebhookBody } from '#data/contracts/webhooks.ts';
import type { TransitionDeps } from './transitions.ts';
import { advanceNotifyCursor, notifyEventsAfterCursor } from '../store/notify.ts';
import { claimDueWebhooks, fanOutWebhooks, recordWebhookAttempt, type DueDelivery, type RetryPolicy } from '../store/webhooks.ts';
import { signWebhook } from '../domain/standard-webhooks.ts';
import { postWebhook, type Resolve } from './webhook-request.ts';

export type WebhookDeps = Pick<TransitionDeps, 'db' | 'clock' | 'log'>;

export interface WebhookOptions extends Partial<RetryPolicy> {
  /** config.webhookAllowPrivate: whether loopback and private addresses may be reached. */
  allowPrivate: boolean;
  /** Host name → addresses; the composition root passes the system resolver, tests their own. */
  resolve: Resolve;
  /** Per request, resolving included. */
  timeoutMs?: number;
  /** How often the loop looks for new events and due deliveries. */
  pollMs?: number;
  /** Requests in flight at once. */
  concurrency?: number;
}

/** 5 s, 30 s, 2 min, 10 min, 1 h, 3 h, 6 h, 12 h: nine attempts over about 22 hours. */
export const DEFAULT_RETRY_DELAYS_MS = [5_000, 30_000, 120_000, 600_000, 3_600_000, 10_800_000, 21_600_000, 43_200_000] as const;
export const DEFAULT_DISABLE_AFTER = 5;
export const DEFAULT_WEBHOOK_TIMEOUT_MS = 10_000;
const BATCH = 500;

/** Moves every event past the cursor into deliveries; returns how many deliveries it made. */
export function runWebhookFanout(deps: WebhookDeps): number {
  let made = 0;
  for (;;) {
    const n = deps.db.transaction(() => {
      const events = notifyEventsAfterCursor(deps.db, 'webhook', BATCH);
      if (events.length === 0) return -1;
      made += fanOutWebhooks(deps.db, events, deps.clock().getTime());
      advanceNotifyCursor(deps.db, 'webhook', events[events.length - 1].id);
      return events.length;
    })();
    if (n < BATCH) return made;
  }
}

/** The body of a delivery: the event as announced, without its HTML. */
function webhookBody(d: Pick<DueDelivery, 'eventId' | 'kind' | 'at' | 'payload'>): string {
  const { html: _html, ...rest } = JSON.parse(d.payload) as NotifyPayload;
  const body: WebhookBody = { type: d.kind, timestamp: d.at, data: { ...rest, eventId: d.eventId } };
  return JSON.stringify(body);
}

/** Sends the due deliveries once each (up to `concurrency` at a time); returns how many it tried. */
export async function runWebhookSends(deps: WebhookDeps, opts: WebhookOptions): Promise<number> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_WEBHOOK_TIMEOUT_MS;
  const policy: RetryPolicy = {
    retryDelaysMs: opts.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS,
    disableAfter: opts.disableAfter ?? DEFAULT_DISABLE_AFTER,
  };
  // The lease outlasts the request, so only a crash (or a stop mid-send) leaves a delivery to be sent again.
  const due = claimDueWebhooks(deps.db, deps.clock().getTime(), timeoutMs + 5_000, opts.concurrency ?? 8);
  await Promise.all(
    due.map(async (d) => {
      const id = webhookId(d.eventId, d.endpointId);
      const body = webhookBody(d);
      const ts = Math.floor(deps.clock().getTime() / 1000);
      const result = await postWebhook({
        url: d.url,
        body,
        timeoutMs,
        resolve: opts.resolve,
        allowPrivate: opts.allowPrivate,
        headers: {
          'content-type': 'application/json',
          'user-agent': 'Tidings-Webhooks',
          'webhook-id': id,
          'webhook-timestamp': String(ts),
          'webhook-signature': signWebhook(d.secret, id, ts, body),
        },
      });
      recordWebhookAttempt(deps.db, d, result, deps.clock(), policy);
      if (result.error)
        deps.log.warn({ webhook: d.endpointId, event: d.eventId, attempt: d.attempts + 1, error: result.error }, 'webhook delivery failed');
    }),
  );
  return due.length;
}

export interface WebhookLoop {
  /** Runs the fan-out and one round of sends now (tests); resolves when that round is done. */
  tick(): Promise<void>;
  /** Stops the loop; resolves when the round in progress has recorded its answers. */
  stop(): Promise<void>;
}

/** Every pollMs (1 s by default): fan out new events, then send what is due; rounds never overlap. */
export function startWebhookLoop(deps: WebhookDeps, opts: WebhookOptions): WebhookLoop {
  let running: Promise<void> | null = null;
  let stopped = false;
  const round = (): Promise<void> => {
    running ??= (async () => {
      try {
        runWebhookFanout(deps);
        // A full round may have left more due: go on at once rather than a poll later.
        while (!stopped && (await runWebhookSends(deps, opts)) >= (opts.concurrency ?? 8));
      } catch (err) {
        // Nothing half-done: each step is its own transaction, and a claimed delivery is retried when its lease ends.
        deps.log.error({ err }, 'webhook job failed');
      } finally {
        running = null;
      }
    })();
    return running;
  };
  const timer = setInterval(() => void round(), opts.pollMs ?? 1000);
  timer.unref();
  return {
    tick: round,
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}

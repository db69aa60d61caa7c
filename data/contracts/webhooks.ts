// Webhooks (issue 14): what staff send to register an endpoint, what the API answers, and the body every delivery POSTs.
import { z } from 'zod';
import type { NotifyEventKind, NotifyPayload } from './notify.ts';

/** An http(s) URL without credentials; whether its address may be reached is the sender's check (TIDINGS_WEBHOOK_ALLOW_PRIVATE). */
export const WebhookUrl = z
  .string()
  .max(2000)
  .refine((s) => {
    try {
      const u = new URL(s);
      return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '' && u.username === '' && u.password === '';
    } catch {
      return false;
    }
  }, 'must be an http:// or https:// URL without a user name or password');

export const AddWebhookInput = z
  .object({
    url: WebhookUrl,
    /** A section's slug: only that section's events; left out or null: every event. */
    section: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,59}$/, 'a section slug')
      .nullable()
      .optional(),
    description: z.string().max(200).optional(),
  })
  .strict();
export type AddWebhookInput = z.infer<typeof AddWebhookInput>;

export const SetWebhookEnabledInput = z.object({ enabled: z.boolean() }).strict();

/** An endpoint as staff see it: never its secret (that is shown once, in the answer that created it). */
export interface WebhookView {
  id: number;
  url: string;
  section: { slug: string; name: string } | null;
  description: string;
  createdAt: string;
  createdBy: string;
  enabled: boolean;
  consecutiveFailures: number;
  disabledAt: string | null;
  disabledReason: string | null;
}

/** One attempt of the delivery log. */
export interface WebhookAttemptView {
  deliveryId: number;
  eventId: number;
  kind: string;
  webhookId: string;
  attempt: number;
  at: string;
  status: number | null;
  error: string | null;
  durationMs: number;
  /** The delivery's state now: queued (a retry is due), delivered, or failed (the retries ran out). */
  state: 'queued' | 'delivered' | 'failed';
}

/** The JSON body of a delivery (Standard Webhooks' shape): the event's payload without its HTML, with the event id. */
export interface WebhookBody {
  type: NotifyEventKind;
  /** When the event happened (ISO 8601). */
  timestamp: string;
  data: Omit<NotifyPayload, 'html'> & { eventId: number };
}

/** The webhook-id header: stable per event and endpoint, so a receiver that sees it twice knows it is a repeat. */
export const webhookId = (eventId: number, endpointId: number) => `msg_tidings_${eventId}_${endpointId}`;

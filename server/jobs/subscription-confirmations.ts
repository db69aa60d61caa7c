// Sends the double opt-in mails queued by subscribe requests (subscription_confirmations) through the outbound relay
// (TIDINGS_NOTIFY_SMTP_URL), and deletes requests left unconfirmed for 48 hours. A claimed row draws its link's secret
// in the claiming transaction (only its SHA-256 is stored); a send cut short by a crash is retried when its lease ends,
// with a new secret, so only the newest link confirms.
import nodemailer from 'nodemailer';
import type { DB } from '#data/db.ts';
import type { Clock, Log } from '../deps.ts';
import { buildConfirmationMessage, type ConfirmationMessage } from '../domain/confirmation-message.ts';
import { confirmUrl, newLinkSecret, subscriberLinks, tokenHash } from '../domain/subscription-links.ts';
import { followPhrase, followView } from '../services/subscriptions/follows.ts';
import {
  claimDueConfirmations,
  dropConfirmation,
  markConfirmationFailed,
  markConfirmationRetry,
  markConfirmationSent,
  setConfirmHash,
} from '../store/subscription-confirmations.ts';
import { deleteExpiredPending, linkSecret } from '../store/subscriptions.ts';
import { envelopeAddress, RELAY_TIMEOUTS, retryDelayMs, wakeableSleep } from './relay-mail.ts';

/** How long a follow may wait for its confirmation before the request (and an address with nothing else) is deleted. */
export const PENDING_TTL_MS = 48 * 60 * 60_000;

/** Hands one message to the relay; rejects with nodemailer's error (responseCode set for an SMTP answer). */
export type SendConfirmation = (m: ConfirmationMessage) => Promise<void>;

export interface ConfirmationOptions {
  publicUrl: string;
  from: string;
  leaseMs?: number;
  /** First wait after a temporary failure, doubling up to an hour. Default 30 s. */
  firstRetryMs?: number;
  maxAttempts?: number;
}

export interface ConfirmationDeps {
  db: DB;
  clock: Clock;
  log: Pick<Log, 'info' | 'warn'>;
}

/** One pass: every due confirmation is claimed, sent and recorded. Returns how many were sent. */
export async function sendDueConfirmations(deps: ConfirmationDeps, send: SendConfirmation, o: ConfirmationOptions): Promise<number> {
  const { db, clock } = deps;
  const leaseMs = o.leaseMs ?? 5 * 60_000;
  const claimed = db
    .transaction(() => {
      const secretKey = linkSecret(db);
      const out: { id: number; attempts: number; message: ConfirmationMessage }[] = [];
      for (const r of claimDueConfirmations(db, clock().getTime(), leaseMs, 50)) {
        const secret = newLinkSecret();
        if (!setConfirmHash(db, r.id, tokenHash(secret))) {
          dropConfirmation(db, r.id); // confirmed meanwhile (by an earlier mail's link): nothing to send
          continue;
        }
        const message = buildConfirmationMessage({
          from: o.from,
          to: r.email,
          what: followPhrase(followView(r)),
          confirmUrl: confirmUrl(o.publicUrl, secret),
          links: subscriberLinks(o.publicUrl, secretKey, r.subscriber_id),
        });
        out.push({ id: r.id, attempts: r.attempts, message });
      }
      return out;
    })
    .immediate();
  let sent = 0;
  for (const c of claimed) {
    try {
      await send(c.message);
    } catch (e) {
      const err = e as { responseCode?: number; response?: string; message?: string };
      const text = err.response ?? err.message ?? String(e);
      const code = err.responseCode ?? 0;
      if ((code >= 500 && code < 600) || c.attempts >= (o.maxAttempts ?? 10)) {
        markConfirmationFailed(db, c.id, text);
        deps.log.warn({ subscriptionId: c.id, error: text }, 'subscriptions: confirmation mail failed');
      } else {
        markConfirmationRetry(db, c.id, clock().getTime() + retryDelayMs(c.attempts, o.firstRetryMs ?? 30_000, 3_600_000), text);
      }
      continue;
    }
    markConfirmationSent(db, c.id, clock().toISOString());
    sent++;
  }
  return sent;
}

/** Deletes follows unconfirmed for PENDING_TTL_MS, and their subscribers when nothing else is left. */
export function expirePendingSubscriptions(deps: ConfirmationDeps): { follows: number; subscribers: number } {
  const before = new Date(deps.clock().getTime() - PENDING_TTL_MS).toISOString();
  const r = deps.db.transaction(() => deleteExpiredPending(deps.db, before)).immediate();
  if (r.follows > 0) deps.log.info(r, 'subscriptions: unconfirmed requests deleted');
  return r;
}

/** nodemailer to the relay, one connection at a time; null without a relay (the mails wait in the queue). */
export function relaySender(smtpUrl: string | null): { send: SendConfirmation; close: () => void } | null {
  if (!smtpUrl) return null;
  const transport = nodemailer.createTransport({ url: smtpUrl, ...RELAY_TIMEOUTS });
  return {
    send: async (m) => {
      await transport.sendMail({ ...m, envelope: { from: envelopeAddress(m.from), to: [m.to] } });
    },
    close: () => transport.close(),
  };
}

export interface ConfirmationLoop {
  /** A request was queued: send now rather than at the next poll. */
  kick(): void;
  stop(): Promise<void>;
}

export interface ConfirmationLoopOptions extends ConfirmationOptions {
  /** The outbound relay (config.notifySmtpUrl); null: the mails wait in the queue, the expiry still runs. */
  smtpUrl: string | null;
  /** Pause between passes. Default 2 s. */
  pollMs?: number;
}

/** Sends due confirmations every pollMs (and when kicked) until stopped; the expiry runs with each pass. */
export function startConfirmationLoop(deps: ConfirmationDeps, o: ConfirmationLoopOptions): ConfirmationLoop {
  const relay = relaySender(o.smtpUrl);
  let stopped = false;
  const nap = wakeableSleep();
  const loop = async () => {
    while (!stopped) {
      try {
        expirePendingSubscriptions(deps);
        if (relay) await sendDueConfirmations(deps, relay.send, o);
      } catch (err) {
        deps.log.warn({ err }, 'subscriptions: confirmation pass failed'); // leases end; the next pass retries
      }
      if (stopped) break;
      await nap.sleep(o.pollMs ?? 2000);
    }
  };
  const running = loop();
  return {
    kick: nap.wake,
    stop: async () => {
      stopped = true;
      nap.wake();
      await running;
      relay?.close();
    },
  };
}

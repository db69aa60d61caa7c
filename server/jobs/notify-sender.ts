// Subscriber mail (issue 14): the email consumer of the notification outbox. The fan-out turns events past the 'email'
// cursor into notify_mail rows (server/store/notify-mail.ts); the sender claims due rows under a lease, checks at send
// time that the subscription still stands, hands each message to the outbound relay (TIDINGS_NOTIFY_SMTP_URL) over a
// pool of SMTP connections, and records each answer in a transaction right after it (shared with the answers that
// came in with it). A process killed between the relay's 250 and that commit sends that message again after its restart,
// with the same Message-ID: at most the messages in flight at the kill (`inFlight`) are sent twice.
import nodemailer from 'nodemailer';
import type { NotifyEvent } from '#data/contracts/notify.ts';
import type { DB } from '#data/db.ts';
import type { ChangeCounter, Clock, Log } from '../deps.ts';
import { buildNotifyMessage } from '../domain/notify-message.ts';
import type { SubscriptionLinks } from '../domain/subscription-links.ts';
import {
  claimDueMail,
  fanOutBatch,
  fanOutPending,
  freeLeases,
  type MailKey,
  markMailFailed,
  markMailRetry,
  markMailSent,
  nextMailDue,
  recipientOrDrop,
} from '../store/notify-mail.ts';
import { notifyEventById } from '../store/notify.ts';
import { envelopeAddress, RELAY_TIMEOUTS, retryDelayMs, wakeableSleep } from './relay-mail.ts';

export interface NotifySenderOptions {
  /** The outbound relay (config.notifySmtpUrl); null: the fan-out runs, nothing is sent. */
  smtpUrl: string | null;
  from: string;
  /** The host of Message-IDs (the public URL's host). */
  host: string;
  /** The manage and unsubscribe links of a subscriber. */
  links: (subscriberId: number) => SubscriptionLinks;
  /** SMTP connections to the relay at most (nodemailer pool). Default 5. */
  maxConnections?: number;
  /** Messages handed to the relay and not yet recorded, at most. Default 4 per connection. */
  inFlight?: number;
  /** Events per fan-out transaction. Default 50. */
  fanOutBatch?: number;
  /** How long a claimed row is held (longer than any send: the socket timeouts are 60 s). Default 5 min. */
  leaseMs?: number;
  /** Permanent failures in a row that disable a subscriber. Default 3. */
  failureThreshold?: number;
  /** First wait after a temporary failure; it doubles up to maxRetryMs. Defaults 30 s and 1 h. */
  firstRetryMs?: number;
  maxRetryMs?: number;
  /** Attempts before a row that only ever failed temporarily is given up (failed, not counted against the subscriber). */
  maxAttempts?: number;
  /** Longest sleep between looks at the outbox when nothing was kicked. Default 1 s. */
  pollMs?: number;
}

export interface NotifySender {
  /** Something may have been written to the outbox: fan out and send now rather than at the next poll. */
  kick(): void;
  /** Stops claiming, waits for the messages in flight to be recorded, closes the pool. */
  stop(): Promise<void>;
}

interface SmtpError {
  responseCode?: number;
  response?: string;
  command?: string;
  code?: string;
  message?: string;
}

export function startNotifySender(deps: { db: DB; clock: Clock; log: Log; changes?: ChangeCounter }, o: NotifySenderOptions): NotifySender {
  const { db, clock, log } = deps;
  const maxConnections = o.maxConnections ?? 5;
  const inFlight = o.inFlight ?? maxConnections * 4;
  const leaseMs = o.leaseMs ?? 5 * 60_000;
  const threshold = o.failureThreshold ?? 3;
  const firstRetryMs = o.firstRetryMs ?? 30_000;
  const maxRetryMs = o.maxRetryMs ?? 3_600_000;
  const maxAttempts = o.maxAttempts ?? 20;
  const pollMs = o.pollMs ?? 1000;
  const transport = o.smtpUrl
    ? nodemailer.createTransport({
        pool: true,
        url: o.smtpUrl,
        maxConnections,
        maxMessages: 1000,
        ...RELAY_TIMEOUTS,
      })
    : null;
  if (!transport) log.warn('notify: TIDINGS_NOTIFY_SMTP_URL is not set; subscriber mail is queued but not sent');
  // Rows leased by a process that is gone (this sender is the only one of its state folder) are due again now.
  const freed = freeLeases(db);
  if (freed > 0) log.warn({ freed }, 'notify: rows in flight when the last process stopped are due again');

  const events = new Map<number, NotifyEvent>();
  const eventById = (id: number): NotifyEvent => {
    let e = events.get(id);
    if (!e) {
      e = notifyEventById(db, id);
      if (!e) throw new Error(`notify event ${id} is gone`);
      if (events.size >= 64) events.delete(events.keys().next().value as number);
      events.set(id, e);
    }
    return e;
  };

  const fanOut = (): void => {
    while (fanOutPending(db)) {
      const r = fanOutBatch(db, o.fanOutBatch ?? 50, clock().getTime());
      if (r.rows > 0) log.info({ events: r.events, rows: r.rows }, 'notify: fanned out');
    }
  };

  const record = (k: MailKey, attempts: number, err: SmtpError): void => {
    const now = clock();
    const text = `${err.command ? `${err.command}: ` : ''}${err.response ?? err.message ?? String(err)}`;
    const code = err.responseCode ?? 0;
    // 5xx to the recipient or the message is the subscriber's; a 5xx to MAIL FROM or the greeting is ours (retried).
    const permanent = code >= 500 && code < 600 && err.command !== 'MAIL FROM' && err.command !== 'CONN';
    if (permanent || attempts >= maxAttempts) {
      const disabled = markMailFailed(db, k, text, { nowMs: now.getTime(), atIso: now.toISOString(), counts: permanent, threshold });
      log.warn({ ...k, attempts, error: text }, 'notify: message failed');
      if (disabled) log.warn({ subscriberId: k.subscriberId }, 'notify: subscriber disabled after permanent failures');
    } else {
      markMailRetry(db, k, now.getTime() + retryDelayMs(attempts, firstRetryMs, maxRetryMs), text);
    }
  };

  const sendOne = async (c: MailKey & { attempts: number }): Promise<void> => {
    if (!transport) return;
    const recipient = recipientOrDrop(db, c);
    if (!recipient) return;
    const m = buildNotifyMessage(
      eventById(c.eventId),
      { subscriberId: c.subscriberId, email: recipient.email },
      {
        from: o.from,
        host: o.host,
        links: o.links(c.subscriberId),
      },
    );
    let info: { response?: string };
    try {
      info = await transport.sendMail({ ...m, envelope: { from: envelopeAddress(o.from), to: [m.to] } });
    } catch (err) {
      if (stopped === 'closed') return; // the database is gone: the lease ends and a later process retries
      record(c, c.attempts, err as SmtpError);
      return;
    }
    // Committed right after the 250 (with the others that came in with it), and the worker takes no other message
    // until it is: only the messages between the relay's answer and this commit, at most `inFlight`, can be sent twice.
    await recordSent({ eventId: c.eventId, subscriberId: c.subscriberId, reply: info.response ?? '250' });
  };

  let answered: { k: MailKey & { reply: string }; done: () => void }[] = [];
  const flush = (): void => {
    const batch = answered;
    answered = [];
    try {
      if (stopped !== 'closed') {
        const stale = markMailSent(
          db,
          batch.map((b) => b.k),
          clock().toISOString(),
        );
        for (const k of stale) log.warn({ ...k }, 'notify: a row was no longer queued when its 250 came');
      }
    } catch (err) {
      log.error({ err }, 'notify: recording sent messages failed'); // their leases end; they are sent again then
    }
    for (const b of batch) b.done();
  };
  const recordSent = (k: MailKey & { reply: string }): Promise<void> =>
    new Promise((done) => {
      answered.push({ k, done });
      // The 250s that came in with this one share its commit.
      if (answered.length === 1) setImmediate(flush);
    });

  const queue: (MailKey & { attempts: number })[] = [];
  const refill = (): void => {
    fanOut();
    if (!transport || stopped) return;
    queue.push(...claimDueMail(db, clock().getTime(), leaseMs, inFlight * 4));
  };
  const worker = async (): Promise<void> => {
    for (;;) {
      if (queue.length === 0 && !stopped) refill();
      const next = queue.shift();
      if (!next) return;
      try {
        await sendOne(next);
      } catch (err) {
        // A bug or the database, not the relay: tried again with backoff like a 4xx (given up after maxAttempts); if
        // even that cannot be written, the lease ends and the row is tried again then.
        log.error({ err, ...next }, 'notify: sending failed');
        try {
          if (stopped !== 'closed') record(next, next.attempts, { message: `not sent: ${(err as Error).message}` });
        } catch {}
      }
    }
  };

  let stopped: false | 'stopping' | 'closed' = false;
  const nap = wakeableSleep();
  let kicked = false;
  const loop = async (): Promise<void> => {
    while (!stopped) {
      kicked = false;
      try {
        await Promise.all(Array.from({ length: inFlight }, worker));
      } catch (err) {
        log.error({ err }, 'notify: fan-out failed'); // nothing half-done: each batch is one transaction
      }
      if (stopped || kicked) continue;
      const due = transport ? nextMailDue(db) : null;
      const wait = Math.max(0, Math.min(pollMs, due === null ? pollMs : due - clock().getTime()));
      await nap.sleep(wait);
    }
  };
  const running = loop();
  const kick = (): void => {
    kicked = true;
    nap.wake();
  };
  // A write the public may see (a comment, a state change) bumps the change counter: fan out within 0.1 s of it.
  let seen = deps.changes?.version();
  const watch = deps.changes
    ? setInterval(() => {
        const v = deps.changes?.version();
        if (v !== seen) {
          seen = v;
          kick();
        }
      }, 100).unref()
    : null;
  return {
    kick,
    stop: async () => {
      if (watch) clearInterval(watch);
      stopped = 'stopping';
      queue.length = 0; // claimed and not started: their leases are freed by the next start
      nap.wake();
      await running;
      stopped = 'closed';
      transport?.close();
    },
  };
}

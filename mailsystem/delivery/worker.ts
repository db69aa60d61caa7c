// Delivery worker: claims due deliveries under a lease, runs the route's Transport (one session per copy, or per group of
// copies: sessions.ts), records each copy's outcome.
import type { Route } from '#mailsystem/config/directory.ts';
import { decideRetry, dueForDelayedDsn, type RetryPolicy } from '#mailsystem/queue/backoff.ts';
import type { Clock, Log } from '#mailsystem/deps.ts';
import type { GroupCommitter } from '#mailsystem/queue/group-commit.ts';
import type { ClaimedDelivery, ClaimLane, QueueStore } from '#mailsystem/queue/store.ts';
import type { DeliveryJob, DeliveryOutcome, Transports } from './transport.ts';
import type { DsnInput } from './dsn.ts';
import { renderCopy } from './render.ts';
import { claimSessions, SESSION_RECIPIENTS } from './sessions.ts';

/** What a DSN builder needs to report one recipient's fate (RFC 3464): the builder's own input. */
export type DsnRequest = DsnInput;

const INTERNAL_ERROR: DeliveryOutcome = { kind: 'deferred', response: '4.3.0 internal delivery error' };

export interface WorkerOptions {
  /** Identifies this worker's leases. */
  owner: string;
  leaseMs: number;
  /**
   * Sessions in hand at once, per lane (store.ts, ClaimLane). A 'remote' session (LMTP, forwarding, the legacy relay)
   * takes one copy, or up to `sessionRecipients` copies of one message for LMTP and the legacy relay (sessions.ts); the
   * copies in hand are the most a crash can repeat. 'local' (the built-in Maildir) is larger: each delivery mostly
   * waits for two fsyncs on libuv's pool, so with few in hand the worker idles while the queue grows
   * (bench/smtp-e2e/README.md).
   */
  concurrency: { local: number; remote: number };
  /** Most copies of one message in one LMTP or legacy relay session (one RCPT TO each); default SESSION_RECIPIENTS. */
  sessionRecipients?: number;
  /** Longest sleep between looks at the queue when nothing is known to be due. */
  idlePollMs: number;
  retry: RetryPolicy;
  reportingMta: string;
}

export interface WorkerDeps {
  store: QueueStore;
  committer: GroupCommitter;
  transports: Transports;
  clock: Clock;
  log: Log;
  buildDsn: (req: DsnRequest) => Buffer;
  /** Where a DSN to this (non-null) sender goes: a hosted mailbox or a forward route. */
  routesForSender: (address: string) => Route[];
  newId: (now: number) => string;
  random?: () => number;
}

export class DeliveryWorker {
  private readonly opts: WorkerOptions;
  private readonly deps: WorkerDeps;
  private readonly inHand: Record<ClaimLane, Set<Promise<void>>> = { local: new Set(), remote: new Set() };
  private running = false;
  private claiming = false;
  private pumpQueued = false;
  private timer: NodeJS.Timeout | null = null;

  constructor(opts: WorkerOptions, deps: WorkerDeps) {
    this.opts = opts;
    this.deps = deps;
  }

  start(): void {
    this.running = true;
    this.kick();
  }

  /** Something became due (a message was accepted): look at the queue soon. */
  kick(): void {
    if (!this.running || this.pumpQueued) return;
    this.pumpQueued = true;
    setImmediate(() => {
      this.pumpQueued = false;
      void this.pump();
    });
  }

  /** Stops claiming, waits for the deliveries in hand and their outcome commits. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    while (this.active > 0) await Promise.allSettled([...this.inHand.local, ...this.inHand.remote]);
  }

  get active(): number {
    return this.inHand.local.size + this.inHand.remote.size;
  }

  /** Room to claim into, per lane: claims come in batches (a claim is a commit), at least half the lane at a time. */
  private room(lane: ClaimLane): number {
    const limit = this.opts.concurrency[lane];
    const room = limit - this.inHand[lane].size;
    return room >= Math.max(1, limit / 2) ? room : 0;
  }

  private async pump(): Promise<void> {
    if (!this.running || this.claiming) return;
    const room = { local: this.room('local'), remote: this.room('remote') };
    if (room.local === 0 && room.remote === 0) return;
    this.claiming = true;
    let claimed: Record<ClaimLane, ClaimedDelivery[]> = { local: [], remote: [] };
    let sessions: Record<ClaimLane, ClaimedDelivery[][]> = { local: [], remote: [] };
    try {
      const now = this.deps.clock.now();
      const { store, transports } = this.deps;
      const { owner, leaseMs } = this.opts;
      const max = this.opts.sessionRecipients ?? SESSION_RECIPIENTS;
      // Both lanes in one commit, with the copies that join a remote session.
      ({ claimed, sessions } = await this.deps.committer.submit(() => {
        const due = {
          local: store.claimDue(owner, now, leaseMs, room.local, 'local'),
          remote: store.claimDue(owner, now, leaseMs, room.remote, 'remote'),
        };
        const remote = claimSessions(store, due.remote, transports, { owner, now, leaseMs, max });
        return { claimed: due, sessions: { local: due.local.map((d) => [d]), remote } };
      }));
    } catch (err) {
      this.deps.log.error({ err }, 'claiming deliveries failed');
    } finally {
      this.claiming = false;
    }
    let more = false;
    for (const lane of ['local', 'remote'] as const) {
      for (const copies of sessions[lane]) {
        const p = this.deliverSession(copies).finally(() => {
          this.inHand[lane].delete(p);
          this.kick();
        });
        this.inHand[lane].add(p);
      }
      if (room[lane] > 0 && claimed[lane].length === room[lane]) more = true;
    }
    if (more) this.kick();
    else if (this.active === 0) this.sleep();
  }

  private sleep(): void {
    if (!this.running) return;
    if (this.timer) clearTimeout(this.timer);
    const now = this.deps.clock.now();
    const next = this.deps.store.nextDueAt();
    const wait = next === null ? this.opts.idlePollMs : Math.min(Math.max(next - now, 0), this.opts.idlePollMs);
    this.timer = setTimeout(
      () => {
        this.timer = null;
        this.kick();
      },
      Math.max(wait, 5),
    );
    this.timer.unref();
  }

  /** One session: its copies share the message, the bytes and the target (sessions.ts), each gets its own outcome. */
  private async deliverSession(copies: ClaimedDelivery[]): Promise<void> {
    const outcomes = await this.attempt(copies);
    // Every copy's outcome in one transaction.
    const record = (): void => {
      for (const [i, d] of copies.entries()) this.recordOutcome(d, outcomes[i] ?? INTERNAL_ERROR);
    };
    try {
      // A 250 from Dovecot or a remote MTA means the message is stored there; until our commit a
      // crash delivers it again. So it is committed here, in the turn its reply arrived, instead of
      // with the next batch. (Maildir needs no hurry: a redelivery finds its own file.)
      const remote250 = outcomes.some((o) => o.kind === 'delivered') && !this.deps.transports[copies[0].route.kind]?.idempotent;
      if (remote250) this.deps.committer.commitNow(record);
      else await this.deps.committer.submit(record);
    } catch (err) {
      // The lease lapses and the delivery is retried: Maildir finds its file, every other route
      // delivers again (at least once).
      this.deps.log.error({ err, deliveries: copies.map((d) => d.id) }, 'recording a delivery outcome failed');
    }
  }

  private async attempt(copies: ClaimedDelivery[]): Promise<DeliveryOutcome[]> {
    const [first] = copies;
    const transport = this.deps.transports[first.route.kind];
    if (!transport) return copies.map(() => ({ kind: 'deferred', response: `4.3.0 no transport configured for ${first.route.kind}` }));
    try {
      const message = renderCopy(this.deps.store.messageBody(first.messageId), first.added);
      const jobs = copies.map(
        (d): DeliveryJob => ({
          queueId: d.messageId,
          deliveryId: d.id,
          envelopeFrom: d.envelopeFrom,
          recipient: d.recipient,
          route: d.route,
          message,
          attempt: d.attempts,
        }),
      );
      if (jobs.length > 1 && transport.deliverMany) return await transport.deliverMany(jobs);
      return [await transport.deliver(jobs[0])];
    } catch (err) {
      this.deps.log.error({ err, deliveries: copies.map((d) => d.id) }, 'transport threw');
      return copies.map(() => INTERNAL_ERROR);
    }
  }

  /** Runs inside one group-commit item: the state change, its event and any DSN commit together. */
  private recordOutcome(d: ClaimedDelivery, outcome: DeliveryOutcome): void {
    const { store, clock } = this.deps;
    const now = clock.now();
    if (outcome.kind === 'delivered') {
      store.recordDelivered(d, now, outcome.response);
      return;
    }
    const decision =
      outcome.kind === 'failed'
        ? { kind: 'expire' as const }
        : decideRetry(this.opts.retry, d.createdAt, now, d.attempts, (this.deps.random ?? Math.random)());
    if (decision.kind === 'expire') {
      // Read before the bounce: the last final delivery drops the stored body.
      const original = store.messageBody(d.messageId);
      const expired = outcome.kind !== 'failed';
      if (store.recordBounced(d, now, outcome.response, expired ? 'expired' : 'permanent')) {
        this.enqueueDsn(d, { action: 'failed', expired }, outcome.response, now, original);
      }
      return;
    }
    if (!store.recordDeferred(d, now, decision.at, outcome.response)) return;
    if (dueForDelayedDsn(this.opts.retry, d.createdAt, now, d.delayedDsnAt)) {
      store.markDelayedDsn(d.id, now);
      this.enqueueDsn(
        d,
        { action: 'delayed', willRetryUntil: d.createdAt + this.opts.retry.maxAgeMs },
        outcome.response,
        now,
        store.messageBody(d.messageId),
      );
    }
  }

  private enqueueDsn(
    d: ClaimedDelivery,
    kind: Pick<DsnInput, 'action' | 'expired' | 'willRetryUntil'>,
    response: string,
    now: number,
    original: Buffer,
  ): void {
    // Never to the null sender (no bounce loops), never for spam (no backscatter).
    if (d.envelopeFrom === '' || d.isSpam) return;
    const routes = this.deps.routesForSender(d.envelopeFrom);
    if (routes.length === 0) return;
    const body = this.deps.buildDsn({
      ...kind,
      queueId: d.messageId,
      envelopeFrom: d.envelopeFrom,
      recipient: d.recipient,
      response,
      arrivedAt: d.createdAt,
      now,
      reportingMta: this.opts.reportingMta,
      original,
    });
    this.deps.store.insertAccepted({
      id: this.deps.newId(now),
      receivedAt: now,
      envelopeFrom: '',
      clientIp: '',
      helo: '',
      body,
      origin: 'dsn',
      deliveries: routes.map((route) => ({ recipient: d.envelopeFrom, route })),
    });
  }
}

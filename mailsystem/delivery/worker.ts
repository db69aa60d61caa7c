// Delivery worker: claims due deliveries under a lease, runs the route's Transport, records the outcome.
import type { Route } from '#mailsystem/config/directory.ts';
import { decideRetry, dueForDelayedDsn, type RetryPolicy } from '#mailsystem/queue/backoff.ts';
import type { Clock, Log } from '#mailsystem/deps.ts';
import type { GroupCommitter } from '#mailsystem/queue/group-commit.ts';
import type { ClaimedDelivery, QueueStore } from '#mailsystem/queue/store.ts';
import type { DeliveryOutcome, Transports } from './transport.ts';
import type { DsnInput } from './dsn.ts';

/** What a DSN builder needs to report one recipient's fate (RFC 3464): the builder's own input. */
export type DsnRequest = DsnInput;

export interface WorkerOptions {
  /** Identifies this worker's leases. */
  owner: string;
  leaseMs: number;
  concurrency: number;
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
  private readonly inHand = new Set<Promise<void>>();
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
    while (this.inHand.size > 0) await Promise.allSettled([...this.inHand]);
  }

  get active(): number {
    return this.inHand.size;
  }

  private async pump(): Promise<void> {
    if (!this.running || this.claiming) return;
    const room = this.opts.concurrency - this.inHand.size;
    // Claim in batches: a claim is a commit, so claiming one at a time would cost an fsync each.
    if (room < Math.max(1, this.opts.concurrency / 2)) return;
    this.claiming = true;
    let claimed: ClaimedDelivery[] = [];
    try {
      const now = this.deps.clock.now();
      claimed = await this.deps.committer.submit(() => this.deps.store.claimDue(this.opts.owner, now, this.opts.leaseMs, room));
    } catch (err) {
      this.deps.log.error({ err }, 'claiming deliveries failed');
    } finally {
      this.claiming = false;
    }
    for (const d of claimed) {
      const p = this.deliverOne(d).finally(() => {
        this.inHand.delete(p);
        this.kick();
      });
      this.inHand.add(p);
    }
    if (claimed.length === room) this.kick();
    else if (this.inHand.size === 0) this.sleep();
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

  private async deliverOne(d: ClaimedDelivery): Promise<void> {
    const outcome = await this.attempt(d);
    const record = (): void => this.recordOutcome(d, outcome);
    try {
      // A 250 from Dovecot or a remote MTA means the message is stored there; until our commit a
      // crash delivers it again. So it is committed here, in the turn its reply arrived, instead of
      // with the next batch. (Maildir needs no hurry: a redelivery finds its own file.)
      if (outcome.kind === 'delivered' && !this.deps.transports[d.route.kind]?.idempotent) this.deps.committer.commitNow(record);
      else await this.deps.committer.submit(record);
    } catch (err) {
      // The lease lapses and the delivery is retried: Maildir finds its file, every other route
      // delivers again (at least once).
      this.deps.log.error({ err, delivery: d.id }, 'recording a delivery outcome failed');
    }
  }

  private async attempt(d: ClaimedDelivery): Promise<DeliveryOutcome> {
    const transport = this.deps.transports[d.route.kind];
    if (!transport) return { kind: 'deferred', response: `4.3.0 no transport configured for ${d.route.kind}` };
    try {
      const message = this.deps.store.messageBody(d.messageId);
      return await transport.deliver({
        queueId: d.messageId,
        deliveryId: d.id,
        envelopeFrom: d.envelopeFrom,
        recipient: d.recipient,
        route: d.route,
        message,
        attempt: d.attempts,
      });
    } catch (err) {
      this.deps.log.error({ err, delivery: d.id }, 'transport threw');
      return { kind: 'deferred', response: '4.3.0 internal delivery error' };
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

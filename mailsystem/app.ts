// Composition root of an MX node: ingress, group-committed queue and delivery worker over injected parts.
import { hostname } from 'node:os';
import { DEFAULT_LEGACY_PROBE, type LegacyProbeSettings } from '#data/config-mx.ts';
import type { DB } from '#data/db.ts';
import type { Directory, Route } from './config/directory.ts';
import { MaildirTransport } from './delivery/maildir.ts';
import type { Checks } from './checks/types.ts';
import type { Transports } from './delivery/transport.ts';
import { DeliveryWorker, type DsnRequest, type WorkerOptions } from './delivery/worker.ts';
import { DEFAULT_RETRY, type RetryPolicy } from './queue/backoff.ts';
import type { Clock, Log } from './deps.ts';
import { backlogReader, DEFAULT_FLOW_LIMITS, decideFlow, type FlowLimits } from './queue/flow-control.ts';
import { GroupCommitter } from './queue/group-commit.ts';
import { newQueueId } from './queue/ids.ts';
import type { QuarantineAction } from '#data/contracts/quarantine.ts';
import type { FetchQuarantineActions } from './quarantine/actions.ts';
import { type EventObserver, type QuarantineActionResult, QueueStore } from './queue/store.ts';
import { Ingress, type IngressOptions } from './smtp/ingress.ts';
import { listenSmtp, stopAccepting } from './smtp/listen.ts';
import { createLegacyProbe, type LegacyProbe } from './legacy/probe.ts';
import type { Resolver } from './dns/resolver.ts';

export interface MailSystemOptions {
  smtpHost: string;
  smtpPort: number;
  /**
   * A listening socket handed over by a supervising process (server/embedded-mx.ts), used instead of binding
   * smtpHost:smtpPort (which is bound with SO_REUSEPORT, so a successor can bind it while this process still accepts).
   */
  smtpSocket?: object;
  /** Root of the built-in Maildir store. */
  maildirRoot: string;
  serverName?: string;
  ingress?: Partial<Omit<IngressOptions, 'serverName'>>;
  retry?: Partial<RetryPolicy>;
  worker?: { concurrency?: Partial<WorkerOptions['concurrency']>; leaseMs?: number; idlePollMs?: number };
  /** When delivery falls behind: DATA replies are delayed, then refused with 451 4.3.1 (queue/flow-control.ts). */
  flow?: Partial<FlowLimits> & {
    /** How long one reading of the backlog serves later DATA replies (default 100 ms; 0: read it for every message). */
    sampleMs?: number;
  };
  /** Quarantined copies older than this are deleted (default 30 days), by a job that runs at start and hourly. */
  quarantineRetentionMs?: number;
  /** How long sessions in flight may finish after SIGTERM before they get 421 4.3.2. */
  shutdownDeadlineMs?: number;
  /** RCPT probes to the legacy system for legacy/shadow domains without imported configuration (legacy/probe.ts). */
  legacyProbe?: Partial<LegacyProbeSettings>;
}

export interface MailSystemDeps {
  db: DB;
  directory: Directory;
  clock: Clock;
  log: Log;
  /** Route kinds other than maildir (LMTP, forward, legacy) come from their own modules. */
  transports?: Transports;
  buildDsn: (req: DsnRequest) => Buffer;
  /**
   * Sees every event the queue writes (the node's Prometheus counters), once its transaction has committed: a row
   * rolled back (its item failed, or the commit did and the client got 451) is never seen. Default: nobody.
   */
  observeEvent?: EventObserver;
  /** Told of each DATA reply flow control delays (the node's metrics). */
  observeFlowDelay?: (ms: number) => void;
  /** Content checks (issue 12, mailsystem/checks/); without them nothing is filtered and messages are stored as received. */
  checks?: Checks;
  /** Resolves legacy MX host names for RCPT probes (legacy/probe.ts); default: the system's resolver. */
  legacyResolver?: Resolver;
  /** The backend's pending staff actions on this node's quarantine (quarantine/actions.ts); none without a backend. */
  fetchQuarantineActions?: FetchQuarantineActions;
}

export interface AppliedAction {
  action: QuarantineAction;
  result: QuarantineActionResult;
}

export type QuarantinePollOutcome = { ok: true; applied: AppliedAction[] } | { ok: false; error: string };

export interface MailSystem {
  readonly ingress: Ingress;
  readonly worker: DeliveryWorker;
  readonly store: QueueStore;
  readonly committer: GroupCommitter;
  readonly legacyProbe: LegacyProbe;
  /** Deletes quarantined copies past their retention now (the hourly job's work); resolves with how many. */
  pruneQuarantine(): Promise<number>;
  /**
   * Applies staff actions, each in its own durable transaction with its event ('released' / 'purged'), in order; an
   * action on a copy no longer in the quarantine changes nothing. A released copy is delivered by the worker.
   */
  applyQuarantineActions(actions: readonly QuarantineAction[]): Promise<AppliedAction[]>;
  /** Fetches the pending actions and applies them (run after each config sync); never throws. */
  pollQuarantineActions(): Promise<QuarantinePollOutcome>;
  /** Starts delivering and listening; resolves with the bound SMTP port. */
  start(): Promise<number>;
  /**
   * Graceful stop: stop accepting (smtp/listen.ts stopAccepting), drain sessions, finish deliveries in hand, commit
   * what is pending. The worker claims until the sessions are drained, so what they accepted is delivered before the
   * exit; a successor sharing the node database meanwhile (a rolling restart) never takes a copy this process holds,
   * nor this process one of the successor's.
   */
  stop(): Promise<void>;
}

export const DEFAULT_INGRESS: Omit<IngressOptions, 'serverName'> = {
  maxMessageBytes: 25 * 1024 * 1024,
  maxLineLength: 64 * 1024,
  maxRecipients: 100,
  maxConnectionsPerIp: 20,
  maxClients: 10_000,
  socketTimeoutMs: 5 * 60_000, // RFC 5321 §4.5.3.2 command and data-block timeouts
  dataTimeoutMs: 10 * 60_000, // the "DATA termination" timeout
};

export const DEFAULT_QUARANTINE_RETENTION_MS = 30 * 86_400_000;
const QUARANTINE_PRUNE_EVERY_MS = 3_600_000;
const QUARANTINE_PRUNE_STEP = 500;

/**
 * Deliveries in hand at once: 128 Maildir writes (with 16 the worker idled on fsyncs while the queue grew; 128 kept the
 * queue near empty in bench/smtp-e2e), 16 remote deliveries (also the most a crash can repeat).
 */
export const DEFAULT_CONCURRENCY: WorkerOptions['concurrency'] = { local: 128, remote: 16 };

/**
 * Whether the process holding a lease (the worker's owner, `<server name>:<pid>`, on this host: the node database is
 * local) still runs. This process's own pid is a previous run's (a container restarts with the same pid); a pid taken
 * over by another program keeps the lease until it expires, which delays those deliveries but never repeats them.
 */
function leaseOwnerRunning(owner: string): boolean {
  const pid = Number(owner.slice(owner.lastIndexOf(':') + 1));
  if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function createMailSystem(opts: MailSystemOptions, deps: MailSystemDeps): MailSystem {
  const serverName = opts.serverName ?? hostname();
  const committer = new GroupCommitter(deps.db);
  const observe = deps.observeEvent;
  const store = new QueueStore(deps.db, observe && ((e) => committer.afterCommit(() => observe(e))));
  const newId = (now: number): string => newQueueId(now);
  const legacyProbe = createLegacyProbe({
    heloName: serverName,
    clock: deps.clock,
    resolver: deps.legacyResolver,
    ...DEFAULT_LEGACY_PROBE,
    ...opts.legacyProbe,
  });

  const routesForSender = (address: string): Route[] => {
    const r = deps.directory.resolve(address);
    if (r.status === 'ok') return r.routes;
    return r.status === 'not-hosted' ? [{ kind: 'forward', to: address }] : [];
  };
  const worker = new DeliveryWorker(
    {
      owner: `${serverName}:${process.pid}`,
      leaseMs: opts.worker?.leaseMs ?? 10 * 60_000,
      concurrency: { ...DEFAULT_CONCURRENCY, ...opts.worker?.concurrency },
      idlePollMs: opts.worker?.idlePollMs ?? 5_000,
      retry: { ...DEFAULT_RETRY, ...opts.retry },
      reportingMta: serverName,
    },
    {
      store,
      committer,
      clock: deps.clock,
      log: deps.log,
      buildDsn: deps.buildDsn,
      routesForSender,
      newId,
      transports: { maildir: new MaildirTransport({ root: opts.maildirRoot }), ...deps.transports },
    },
  );

  const { sampleMs, ...limits } = opts.flow ?? {};
  const flowLimits: FlowLimits = { ...DEFAULT_FLOW_LIMITS, ...limits };
  const backlog = backlogReader(deps.db, () => deps.clock.now(), sampleMs);
  const ingress = new Ingress(
    { ...DEFAULT_INGRESS, ...opts.ingress, serverName },
    {
      directory: deps.directory,
      clock: deps.clock,
      log: deps.log,
      newId,
      enqueue: async (message) => {
        await committer.submit(() => store.insertAccepted(message));
        worker.kick();
      },
      flow: () => decideFlow(backlog(), flowLimits),
      onFlowDelay: deps.observeFlowDelay,
      checks: deps.checks,
      legacyProbe,
      recordRejected: (event) => {
        committer.submit(() => store.insertRejected(event)).catch((err: unknown) => deps.log.warn({ err }, 'could not record a rejection'));
      },
    },
  );

  const retentionMs = opts.quarantineRetentionMs ?? DEFAULT_QUARANTINE_RETENTION_MS;
  let pruneTimer: NodeJS.Timeout | null = null;
  /** One bounded step per commit until nothing old is left, so a large backlog never holds the queue for long. */
  const pruneQuarantine = async (): Promise<number> => {
    let total = 0;
    for (;;) {
      const now = deps.clock.now();
      const n = await committer.submit(() => store.pruneQuarantine(now - retentionMs, now, QUARANTINE_PRUNE_STEP));
      total += n;
      if (n < QUARANTINE_PRUNE_STEP) break;
    }
    if (total > 0) deps.log.info({ pruned: total, retentionMs }, 'pruned quarantined copies past retention');
    return total;
  };
  const prune = (): void => {
    pruneQuarantine().catch((err: unknown) => deps.log.warn({ err }, 'pruning the quarantine failed'));
  };

  const applyQuarantineActions = async (actions: readonly QuarantineAction[]): Promise<AppliedAction[]> => {
    // Submitted together, they share a group commit (one fsync) and still run one after the other, each in its own
    // savepoint with its event: a release and a deletion of one copy in one page apply in the page's order.
    const results = await Promise.all(
      actions.map((action) => committer.submit(() => store.applyQuarantineAction(action, deps.clock.now()))),
    );
    const applied = actions.map((action, i) => ({ action, result: results[i] }));
    for (const { action, result } of applied)
      deps.log.info(
        { actionId: action.id, deliveryId: action.deliveryId, action: action.action, result },
        'quarantine: staff action applied',
      );
    if (applied.some((a) => a.result === 'released')) worker.kick();
    return applied;
  };
  const fetchActions = deps.fetchQuarantineActions;
  const pollQuarantineActions = async (): Promise<QuarantinePollOutcome> => {
    if (!fetchActions) return { ok: true, applied: [] };
    const fetched = await fetchActions();
    if (!fetched.ok) {
      deps.log.warn({ err: fetched.error }, 'quarantine: could not fetch staff actions; asking again after the next sync');
      return fetched;
    }
    try {
      return { ok: true, applied: await applyQuarantineActions(fetched.actions) };
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      deps.log.warn({ err: error }, 'quarantine: applying staff actions failed; they stay pending at the backend');
      return { ok: false, error };
    }
  };

  return {
    ingress,
    legacyProbe,
    worker,
    store,
    committer,
    pruneQuarantine,
    applyQuarantineActions,
    pollQuarantineActions,
    async start() {
      const released = store.releaseLeasesOfGone(leaseOwnerRunning);
      if (released > 0) deps.log.info({ released }, 'released leases of a previous run');
      worker.start();
      prune();
      pruneTimer = setInterval(prune, QUARANTINE_PRUNE_EVERY_MS);
      pruneTimer.unref();
      const target = opts.smtpSocket ? { handle: opts.smtpSocket } : { host: opts.smtpHost, port: opts.smtpPort };
      const port = await listenSmtp(ingress.server.server, target);
      deps.log.info({ port, host: opts.smtpHost }, 'smtp ingress listening');
      return port;
    },
    async stop() {
      if (pruneTimer) clearInterval(pruneTimer);
      await stopAccepting(ingress.server);
      await ingress.drain(opts.shutdownDeadlineMs ?? 10_000);
      await worker.stop();
      await committer.close();
    },
  };
}

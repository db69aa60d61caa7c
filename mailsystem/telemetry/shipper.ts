// Ships the node's event log to the backend by cursor (POST /api/v1/telemetry), sends heartbeats
// (POST /api/v1/telemetry/heartbeat) and prunes what the backend acknowledged. It runs on its own
// timers, one bounded batch per tick, and never touches the SMTP path: while the backend is away the
// log simply grows and ships later, in order.
import {
  TELEMETRY_MAX_BATCH,
  TelemetryAck,
  type TelemetryBatch,
  type TelemetryEvent,
  type TelemetryHeartbeat,
} from '#data/contracts/telemetry.ts';
import type { DB } from '#data/db.ts';
import { z } from 'zod';
import type { Clock, Log } from '../deps.ts';
import { eventLog, toTelemetryEvent } from './events.ts';
import { heartbeatReader } from './gauges.ts';
import type { TelemetryPost } from './http.ts';

export interface ShipperOptions {
  db: DB;
  clock: Clock;
  log: Log;
  post: TelemetryPost;
  /** Sent in every heartbeat: whether this node scans content (main.ts always says; TIDINGS_SCAN=off is 'off'). */
  scanning?: 'on' | 'off';
  /** Pause between ticks when the log is shipped up to date. Default 2 s. */
  intervalMs?: number;
  heartbeatIntervalMs?: number;
  /** Events per batch; default 500, never more than TELEMETRY_MAX_BATCH. */
  batchSize?: number;
  /**
   * A batch ends before its JSON could pass this many bytes (default 768 KiB): the backend refuses a body over 1 MiB
   * (server/http/validate.ts MAX_BODY_BYTES) and a refused batch would be sent again forever. Only quarantined events
   * carry much (their entry: subject, addresses, symbols); every other event stays under EVENT_BYTES_BOUND.
   */
  maxBatchBytes?: number;
  /** Shipped events older than this are deleted. Default 7 days. */
  retentionMs?: number;
  /** Events deleted per prune step (one step per tick). Default 500. */
  pruneBatch?: number;
  /** Back-off after a failed send: starts here and doubles up to maxBackoffMs. Default 1 s and 60 s. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

export type ShipOutcome =
  /** Nothing after the cursor. */
  | { kind: 'idle' }
  /** 200: the cursor is now the backend's; `more` when the batch was full (a backlog waits). */
  | { kind: 'acked'; cursor: number; applied: number; sent: number; more: boolean }
  /** 409: the backend holds less than the node thought; the cursor moved to the backend's and the next tick resends. */
  | { kind: 'rewound'; cursor: number }
  /** Not acknowledged (down, 5xx, timeout, a refusal): the cursor is kept, the next try waits. */
  | { kind: 'failed'; error: string }
  /** A row that does not map to the contract: shipping stops, loudly, rather than skip an event. */
  | { kind: 'broken'; seq: number; error: string };

export interface Shipper {
  start(): void;
  /** Stops the timers and aborts a request in flight; resolves once nothing touches the database. */
  stop(): Promise<void>;
  /** One tick's work: one batch, then one bounded prune step. */
  shipOnce(): Promise<ShipOutcome>;
  heartbeatOnce(): Promise<boolean>;
  /** One bounded prune step; returns how many events were deleted. */
  pruneOnce(): number;
  cursor(): number;
  /** True once a row that cannot be shipped stopped shipping (heartbeats go on, showing the lag). */
  readonly broken: boolean;
}

/** The wait after one more failure: min first, then doubling, never above max. */
export function nextBackoffMs(current: number, min: number, max: number): number {
  return current === 0 ? min : Math.min(current * 2, max);
}

/** TelemetryBatch's rules beyond each event: `after` a non-negative integer, seqs strictly increasing after it. */
export function seqOrderError(after: number, events: readonly TelemetryEvent[]): { seq: number; error: string } | null {
  if (!Number.isSafeInteger(after) || after < 0)
    return { seq: events[0]?.seq ?? -1, error: `the cursor ${after} is not a non-negative integer` };
  let prev = after;
  for (const e of events) {
    if (!(e.seq > prev)) return { seq: e.seq, error: `seq ${e.seq} is not after ${prev}: events go in increasing seq order after "after"` };
    prev = e.seq;
  }
  return null;
}

const ConflictBody = z.object({ cursor: z.number().int().nonnegative() });

/** More than any event's JSON without a quarantine entry takes (seq, at, type, message id, route, reason, counts). */
const EVENT_BYTES_BOUND = 256;
export const DEFAULT_MAX_BATCH_BYTES = 768 * 1024;

export function createShipper(opts: ShipperOptions): Shipper {
  const { db, clock, log, post } = opts;
  const interval = opts.intervalMs ?? 2_000;
  const heartbeatInterval = opts.heartbeatIntervalMs ?? 15_000;
  const batchSize = Math.min(opts.batchSize ?? 500, TELEMETRY_MAX_BATCH);
  const maxBatchBytes = opts.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES;
  const retention = opts.retentionMs ?? 7 * 86_400_000;
  const pruneBatch = opts.pruneBatch ?? 500;
  const minBackoff = opts.minBackoffMs ?? 1_000;
  const maxBackoff = opts.maxBackoffMs ?? 60_000;
  const events = eventLog(db);
  const readHeartbeat = heartbeatReader(db, { scanning: opts.scanning });

  let stopped = true;
  /** Set by stop(): from then on nothing touches the database (the process is about to close it). */
  let closed = false;
  let broken = false;
  let backoff = 0;
  let shipTimer: NodeJS.Timeout | undefined;
  let beatTimer: NodeJS.Timeout | undefined;
  const inFlight = new Set<Promise<unknown>>();
  let abort = new AbortController();

  function track<T>(p: Promise<T>): Promise<T> {
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p)).catch(() => {});
    return p;
  }

  // Batches and heartbeats take turns, never overlap: a heartbeat reads the queue together with the highest event seq
  // written, and the backend's accounting line (server/services/telemetry/accounting.ts) compares that reading with
  // its event counts at exactly that seq. Sent one at a time, no batch read after a heartbeat can reach the backend
  // before it, so the backend always holds at most the heartbeat's seq when the heartbeat arrives.
  let turn: Promise<unknown> = Promise.resolve();
  function inTurn<T>(work: () => Promise<T>): Promise<T> {
    const mine = turn.then(work, work);
    turn = mine.catch(() => {});
    return mine;
  }

  async function ship(): Promise<ShipOutcome> {
    if (broken) return { kind: 'broken', seq: -1, error: 'shipping stopped earlier' };
    const after = events.cursor();
    const rows = events.after(after, batchSize);
    if (rows.length === 0) return { kind: 'idle' };
    const mapped: TelemetryEvent[] = [];
    let bytes = 0;
    for (const row of rows) {
      const m = toTelemetryEvent(row);
      if (!m.ok) return stopBroken(row.seq, `event ${row.seq} (${row.type}, reason ${JSON.stringify(row.reason)}): ${m.error}`);
      // An entry is at most a few KiB (its strings are cut to the contract's limits); the first event always goes.
      bytes += EVENT_BYTES_BOUND + (typeof row.entry === 'string' ? Buffer.byteLength(row.entry) : 0);
      if (mapped.length > 0 && bytes > maxBatchBytes) break;
      mapped.push(m.event);
    }
    // Each event was checked against the contract above; what TelemetryBatch adds is the order (the size is
    // 1..batchSize <= TELEMETRY_MAX_BATCH by construction), so that is all that is checked again here.
    const disorder = seqOrderError(after, mapped);
    if (disorder) return stopBroken(disorder.seq, disorder.error);
    const batch: TelemetryBatch = { after, events: mapped };
    let res: Awaited<ReturnType<TelemetryPost>>;
    try {
      res = await post('/api/v1/telemetry', batch, abort.signal);
    } catch (err) {
      return { kind: 'failed', error: err instanceof Error ? err.message : String(err) };
    }
    if (closed) return { kind: 'failed', error: 'stopped' };
    const last = mapped[mapped.length - 1].seq;
    if (res.status === 200) {
      const ack = TelemetryAck.safeParse(res.body);
      if (!ack.success) return { kind: 'failed', error: 'the backend answered 200 without a valid acknowledgement' };
      if (ack.data.cursor < after || ack.data.cursor > last)
        log.warn({ after, last, cursor: ack.data.cursor }, 'telemetry: the backend acknowledged a cursor outside the batch; taking it');
      events.setCursor(ack.data.cursor, clock.now());
      const more = mapped.length < rows.length || rows.length === batchSize;
      return { kind: 'acked', cursor: ack.data.cursor, applied: ack.data.applied, sent: mapped.length, more };
    }
    if (res.status === 409) {
      const body = ConflictBody.safeParse(res.body);
      if (!body.success) return { kind: 'failed', error: 'the backend answered 409 without a cursor' };
      log.warn({ after, cursor: body.data.cursor }, 'telemetry: the backend holds a different cursor; resending from it');
      events.setCursor(body.data.cursor, clock.now());
      return { kind: 'rewound', cursor: body.data.cursor };
    }
    const detail = res.body && typeof res.body === 'object' && 'detail' in res.body ? String(res.body.detail) : '';
    return { kind: 'failed', error: `backend answered HTTP ${res.status}${detail ? `: ${detail}` : ''}` };
  }

  function stopBroken(seq: number, error: string): ShipOutcome {
    broken = true;
    log.error(
      { seq, error },
      'telemetry: an event row does not map to the telemetry contract; shipping STOPPED so no event is skipped (fix the writer, then restart)',
    );
    return { kind: 'broken', seq, error };
  }

  function pruneOnce(): number {
    return events.prune(clock.now() - retention, pruneBatch);
  }

  async function shipOnce(): Promise<ShipOutcome> {
    // A turn can start after stop() (it waited for a heartbeat): from then on nothing touches the database.
    const outcome = await inTurn(() => (closed ? Promise.resolve<ShipOutcome>({ kind: 'failed', error: 'stopped' }) : ship()));
    if (!closed) {
      try {
        pruneOnce();
      } catch (err) {
        log.warn({ err }, 'telemetry: pruning shipped events failed');
      }
    }
    return outcome;
  }

  function nextDelay(outcome: ShipOutcome): number | null {
    switch (outcome.kind) {
      case 'broken':
        return null;
      case 'failed':
        backoff = nextBackoffMs(backoff, minBackoff, maxBackoff);
        log.warn(
          { error: outcome.error, retryInMs: backoff, cursor: events.cursor() },
          'telemetry: batch not acknowledged; keeping the cursor',
        );
        return backoff;
      case 'rewound':
        backoff = 0;
        return 0;
      case 'acked':
        backoff = 0;
        return outcome.more ? 0 : interval;
      case 'idle':
        backoff = 0;
        return interval;
    }
  }

  function scheduleShip(delay: number): void {
    if (stopped) return;
    shipTimer = setTimeout(() => {
      shipTimer = undefined;
      track(shipOnce()).then(
        (outcome) => {
          if (stopped) return;
          const next = nextDelay(outcome);
          if (next !== null) scheduleShip(next);
        },
        (err: unknown) => {
          log.error({ err }, 'telemetry: shipping tick failed');
          scheduleShip(maxBackoff);
        },
      );
    }, delay);
    // The SMTP server keeps the process alive; the shipper alone must not (nor keep a failed test running).
    shipTimer.unref();
  }

  let beating: Promise<boolean> | undefined;
  function heartbeatOnce(): Promise<boolean> {
    beating ??= track(
      inTurn(async () => {
        if (closed) return false;
        const beat: TelemetryHeartbeat = readHeartbeat(clock.now());
        try {
          const res = await post('/api/v1/telemetry/heartbeat', beat, abort.signal);
          if (res.status >= 200 && res.status < 300) return true;
          log.warn({ status: res.status }, 'telemetry: heartbeat refused');
        } catch (err) {
          if (!stopped) log.warn({ err: err instanceof Error ? err.message : String(err) }, 'telemetry: heartbeat not delivered');
        }
        return false;
      }).finally(() => {
        beating = undefined;
      }),
    );
    return beating;
  }

  function scheduleBeat(): void {
    if (stopped) return;
    beatTimer = setTimeout(() => {
      void heartbeatOnce().finally(scheduleBeat);
    }, heartbeatInterval);
    beatTimer.unref();
  }

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      closed = false;
      abort = new AbortController();
      scheduleShip(0);
      void heartbeatOnce().finally(scheduleBeat);
    },
    async stop() {
      stopped = true;
      closed = true;
      if (shipTimer) clearTimeout(shipTimer);
      if (beatTimer) clearTimeout(beatTimer);
      abort.abort();
      await Promise.allSettled([...inFlight]);
    },
    shipOnce,
    heartbeatOnce,
    pruneOnce,
    cursor: () => events.cursor(),
    get broken() {
      return broken;
    },
  };
}

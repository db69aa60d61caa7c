// The node's Prometheus metrics (/metrics on a listener of its own, TIDINGS_MX_METRICS_PORT): counters fed by the
// event log's observer, the latency histogram, and gauges read at scrape time. A registry of its own, never
// prom-client's global one, so two nodes in one process (tests, the all-in-one) do not share counters.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { LATENCY_BUCKETS_MS, type TelemetryHeartbeat } from '#data/contracts/telemetry.ts';
import type { ObservedEvent } from '../queue/store.ts';

export interface MxMetrics {
  readonly registry: Registry;
  /** The event log's observer (QueueStore): every written event moves its counter. */
  observe(e: ObservedEvent): void;
  /** Flow control delayed a DATA reply by this long (queue/flow-control.ts); its refusals are 'queue-full' rejections. */
  observeFlowDelay(ms: number): void;
}

export interface MxMetricsDeps {
  /** The heartbeat's gauges (mailsystem/telemetry/gauges.ts), read at each scrape. */
  readGauges: (now: number) => TelemetryHeartbeat;
  /** The shipping cursor the backend acknowledged (mailsystem/telemetry/events.ts). */
  ackedCursor: () => number;
  now: () => number;
}

export function createMxMetrics(deps: MxMetricsDeps, opts: { processMetrics?: boolean } = {}): MxMetrics {
  const registers = [new Registry()];
  const [registry] = registers;
  if (opts.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  const counter = <L extends string = never>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> =>
    new Counter({ name, help, labelNames, registers });
  const accepted = counter(
    'tidings_mx_messages_accepted_total',
    'Messages accepted from SMTP clients (answered 250 after they were on disk).',
  );
  const dsns = counter('tidings_mx_dsns_total', 'Delivery status notifications this node generated and queued.');
  const rejections = counter('tidings_mx_rejections_total', 'SMTP refusals by reason (one per refused recipient, message or connection).', [
    'reason',
  ]);
  const deliveries = counter(
    'tidings_mx_deliveries_total',
    'Delivery attempts by route kind and outcome (delivered, deferred, bounced; quarantined: kept back by policy).',
    ['route', 'outcome'],
  );
  const released = counter(
    'tidings_mx_quarantine_released_total',
    'Quarantined copies released by staff and queued again, to be delivered as if clean.',
    ['route'],
  );
  const purged = counter(
    'tidings_mx_quarantine_purged_total',
    'Quarantined copies deleted, by reason (staff: a staff deletion; retention: past TIDINGS_QUARANTINE_RETENTION).',
    ['reason'],
  );
  const refused = counter(
    'tidings_mx_quarantine_refused_total',
    'Staff actions that changed nothing, by why (not-quarantined: the copy had left the quarantine or was never here; virus: a release of a virus).',
    ['why'],
  );
  const shadow = counter(
    'tidings_mx_shadow_verdicts_total',
    'Shadow dry run: what the new system would have done with recipients of domains in shadow mode, by verdict and reason.',
    ['verdict', 'reason'],
  );
  const latency = new Histogram({
    name: 'tidings_mx_delivery_latency_seconds',
    help: 'Accept (our 250) to delivery, by route kind; the same bounds as the backend telemetry histogram.',
    labelNames: ['route'] as const,
    buckets: LATENCY_BUCKETS_MS.map((ms) => ms / 1000),
    registers,
  });
  const flowDelayed = counter(
    'tidings_mx_flow_delayed_replies_total',
    'DATA replies flow control delayed because delivery was behind (its refusals: rejections{reason="queue-full"}).',
  );
  const flowDelay = counter('tidings_mx_flow_delay_seconds_total', 'Total time DATA replies were held by flow control.');
  // One read of the gauges per scrape, shared by every gauge's collect callback of that scrape.
  let read: { at: number; g: TelemetryHeartbeat; cursor: number } | null = null;
  const gauges = (): { g: TelemetryHeartbeat; cursor: number } => {
    const now = deps.now();
    if (!read || read.at !== now) read = { at: now, g: deps.readGauges(now), cursor: deps.ackedCursor() };
    return read;
  };
  const gauge = (name: string, help: string, value: (r: { g: TelemetryHeartbeat; cursor: number }) => number): void => {
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(value(gauges()));
      },
    });
  };
  gauge('tidings_mx_queue_depth', 'Deliveries waiting in the queue (due or not).', (r) => r.g.queueDepth);
  gauge(
    'tidings_mx_oldest_queued_age_seconds',
    'Age of the oldest queued delivery; 0 with an empty queue.',
    (r) => (r.g.oldestQueuedMs ?? 0) / 1000,
  );
  gauge('tidings_mx_deliveries_in_retry', 'Queued deliveries that have failed at least once.', (r) => r.g.inRetry);
  gauge('tidings_mx_config_version', 'Version of the mail configuration in the replica.', (r) => r.g.configVersion);
  gauge(
    'tidings_mx_telemetry_shipping_lag_events',
    'Events the backend has not acknowledged yet: the highest event seq minus the acknowledged cursor.',
    (r) => Math.max(0, r.g.lastSeq - r.cursor),
  );
  return {
    registry,
    observeFlowDelay(ms) {
      flowDelayed.inc();
      flowDelay.inc(ms / 1000);
    },
    observe(e) {
      switch (e.type) {
        case 'accepted':
          accepted.inc();
          return;
        case 'dsn':
          dsns.inc();
          return;
        case 'rejected':
          rejections.inc({ reason: e.reason });
          return;
        case 'delivered':
          deliveries.inc({ route: e.route, outcome: 'delivered' });
          latency.observe({ route: e.route }, e.latencyMs / 1000);
          return;
        case 'deferred':
          deliveries.inc({ route: e.route, outcome: 'deferred' });
          return;
        case 'bounced':
          deliveries.inc({ route: e.route, outcome: 'bounced' });
          return;
        case 'quarantined':
          deliveries.inc({ route: e.route, outcome: 'quarantined' });
          return;
        case 'released':
          released.inc({ route: e.route });
          return;
        case 'purged':
          purged.inc({ reason: e.reason });
          return;
        case 'quarantine-refused':
          refused.inc({ why: e.why });
          return;
        case 'shadow-verdict':
          shadow.inc({ verdict: e.verdict, reason: e.reason });
          return;
      }
    },
  };
}

export interface MetricsListener {
  port: number;
  close(): Promise<void>;
}

/** GET /metrics on its own listener; anything else is 404. Idle keep-alive sockets do not hold up close(). */
export function listenMetrics(registry: Registry, host: string, port: number): Promise<MetricsListener> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Not found: try GET /metrics\n');
      return;
    }
    registry.metrics().then(
      (body) => {
        res.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      (err: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`${(err as Error).message}\n`);
      },
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}

// The backend's Prometheus metrics (GET /metrics): its own HTTP requests and telemetry ingest, on a registry of its
// own (never prom-client's global one, so two apps in one test process do not share counters).
import { timingSafeEqual } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import { matchedRoutes } from 'hono/route';
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import { LATENCY_BUCKETS_MS } from '#data/contracts/telemetry.ts';

/** What the HTTP layer and the telemetry routes report; the registry renders it. */
export interface BackendMetrics {
  readonly registry: Registry;
  /** One answered request: its method, the route pattern that matched (not the raw path), status and duration. */
  httpRequest(method: string, route: string, status: number, seconds: number): void;
  /** Events of an acknowledged batch that were applied now (replays are not counted again). */
  eventsApplied(n: number): void;
  /** One POST /api/v1/telemetry: 'applied' (answered 200) or the reason it was refused. */
  batch(result: string): void;
}

export function createBackendMetrics(opts: { processMetrics?: boolean } = {}): BackendMetrics {
  const registry = new Registry();
  if (opts.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  const requests = new Counter({
    name: 'tidings_http_requests_total',
    help: 'HTTP requests answered by the backend, by method, route pattern and status.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'tidings_http_request_duration_seconds',
    help: 'Time from a request reaching the app to its response being ready, by method and route pattern.',
    labelNames: ['method', 'route'] as const,
    // The telemetry contract's log-scale bounds up to 10 s: the same scale as the mail latency charts.
    buckets: LATENCY_BUCKETS_MS.filter((ms) => ms <= 10_000).map((ms) => ms / 1000),
    registers: [registry],
  });
  const applied = new Counter({
    name: 'tidings_telemetry_events_applied_total',
    help: 'Telemetry events applied from MX node batches (a replayed event is not counted again).',
    registers: [registry],
  });
  const batches = new Counter({
    name: 'tidings_telemetry_batches_total',
    help: 'Telemetry batches received, by result: applied, or the reason they were refused.',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  return {
    registry,
    httpRequest(method, route, status, seconds) {
      requests.inc({ method, route, status: String(status) });
      duration.observe({ method, route }, seconds);
    },
    eventsApplied: (n) => applied.inc(n),
    batch: (result) => batches.inc({ result }),
  };
}

/** Times every request that reaches Hono; the route label is Hono's matched pattern, so ids do not explode it. */
export function httpMetrics(metrics: BackendMetrics): MiddlewareHandler {
  return async (c, next) => {
    const start = process.hrtime.bigint();
    try {
      await next();
    } finally {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      // The pattern of the route that answered, or, when a middleware in front of it answered (the /api/v1 gate's
      // 401), of the route it stood in front of; middleware (method ALL) is no route. Never the raw path.
      const routes = matchedRoutes(c);
      const route =
        routes.slice(c.req.routeIndex).find((r) => r.method !== 'ALL')?.path ??
        routes.findLast((r) => r.method !== 'ALL')?.path ??
        '(unmatched)';
      metrics.httpRequest(c.req.method, route, c.res.status, seconds);
    }
  };
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|::ffff:127\.\d+\.\d+\.\d+)$/;

/**
 * Who may read /metrics. With TIDINGS_METRICS_TOKEN set: only "Authorization: Bearer <token>", from anywhere. Without
 * it: only a loopback peer whose request carries no X-Forwarded-For or Forwarded header, because a reverse proxy on
 * the same host connects from loopback too, and a request it passed on from outside says so in those headers.
 */
export function metricsAllowed(c: Context, token: string | null): boolean {
  if (token) {
    const m = /^Bearer\s+(\S+)$/i.exec(c.req.header('authorization') ?? '');
    if (!m) return false;
    const a = Buffer.from(m[1]);
    const b = Buffer.from(token);
    return a.length === b.length && timingSafeEqual(a, b);
  }
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
  const peer = env?.incoming?.socket?.remoteAddress ?? '';
  return LOOPBACK.test(peer) && !c.req.header('x-forwarded-for') && !c.req.header('forwarded');
}

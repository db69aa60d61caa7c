// Process entry of an MX node: configuration, node database, replica directory, transports, signals.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { ConfigError, loadConfig } from '#data/config.ts';
import { loadMxConfig } from '#data/config-mx.ts';
import { openNodeDatabase } from '#mailsystem/queue/open.ts';
import { createMailSystem } from './app.ts';
import { createAuthCheck } from './checks/auth.ts';
import { createClamdClient } from './checks/clamd.ts';
import { createChecks, uncheckedChecks } from './checks/index.ts';
import { createRspamdClient } from './checks/rspamd.ts';
import { createReplicaDirectory } from './config/replica.ts';
import { createConfigSync } from './config/sync.ts';
import { createQuarantineActionsClient } from './quarantine/actions.ts';
import { buildDsn } from './delivery/dsn.ts';
import { createForwardTransport } from './delivery/forward.ts';
import { createLegacyTransport } from './delivery/legacy.ts';
import { createLmtpTransport } from './delivery/lmtp.ts';
import { createSystemResolver } from './dns/system.ts';
import { systemClock } from './deps.ts';
import { ensureSelfSignedCert } from './smtp/self-signed.ts';
import { createSrs } from './srs/srs.ts';
import { eventLog } from './telemetry/events.ts';
import { heartbeatReader } from './telemetry/gauges.ts';
import { createBackendPost } from './telemetry/http.ts';
import { createMxMetrics, listenMetrics, type MetricsListener } from './telemetry/metrics.ts';
import { createShipper } from './telemetry/shipper.ts';

/** The SRS secret must survive restarts (bounces arrive days later), so it lives in the state dir. */
function srsSecrets(dir: string, fromEnv: string[]): { secret: string; oldSecrets: string[] } {
  if (fromEnv.length > 0) return { secret: fromEnv[0], oldSecrets: fromEnv.slice(1) };
  const file = join(dir, 'srs-secret');
  if (!existsSync(file)) writeFileSync(file, randomBytes(32).toString('base64url'), { mode: 0o600 });
  return { secret: readFileSync(file, 'utf8').trim(), oldSecrets: [] };
}

/**
 * Asks the supervising process (server/embedded-mx.ts) for the SMTP listening socket it keeps open across restarts of
 * this process: connections wait in its accept queue while no MX process accepts, and none is refused or reset.
 */
function socketFromParent(): Promise<object> {
  const send = process.send?.bind(process);
  if (!send) throw new ConfigError('TIDINGS_MX_SMTP_SOCKET', '"parent" needs a supervising process with an IPC channel');
  return new Promise((resolve) => {
    const onMessage = (m: { type?: string } | null, handle: unknown): void => {
      if (m?.type !== 'smtp-socket' || !handle) return;
      process.off('message', onMessage);
      resolve(handle as object);
    };
    process.on('message', onMessage);
    send({ type: 'smtp-socket?' });
  });
}

async function main(): Promise<void> {
  const env = process.env;
  // Every Maildir delivery fsyncs a file and a directory on libuv's pool; with its default four
  // threads they queue behind each other. Read by libuv when the pool first starts, i.e. later.
  env.UV_THREADPOOL_SIZE ??= '16';
  const config = loadConfig(env);
  const mxConfig = loadMxConfig(config, env, hostname());
  const log = pino({ level: config.logLevel, base: { component: 'mailsystem' } });
  const mxDir = join(config.stateDir, 'mx');
  mkdirSync(mxDir, { recursive: true });
  const serverName = mxConfig.hostname;
  const db = openNodeDatabase(join(mxDir, 'node.sqlite'));
  // One clock and one logger for every part of the process.
  const clock = systemClock;
  const srs = createSrs({ domain: mxConfig.srsDomain, ...srsSecrets(mxDir, mxConfig.srsSecrets) });
  const directory = createReplicaDirectory({ db, clock, srs });
  const resolver = createSystemResolver({ servers: mxConfig.dnsServers });
  // Content checks (issue 12): on unless TIDINGS_SCAN=off. A scanner that does not answer makes every message 451 4.7.1
  // (fail closed); the node still starts, so mail is refused and retried rather than lost while rspamd or clamd is down.
  const scan = mxConfig.scan;
  const scanners =
    scan.mode === 'on'
      ? {
          spam: createRspamdClient({ url: scan.rspamdUrl, timeoutMs: scan.timeoutMs, maxSockets: scan.connections, mtaName: serverName }),
          virus: createClamdClient({
            host: scan.clamd.host,
            port: scan.clamd.port,
            timeoutMs: scan.timeoutMs,
            maxConnections: scan.connections,
            streamMaxLength: scan.clamdStreamMax,
          }),
        }
      : null;
  const checks = scanners
    ? createChecks({
        authServIds: [serverName],
        auth: createAuthCheck({ resolver, authServId: serverName, timeoutMs: scan.timeoutMs }),
        ...scanners,
      })
    : uncheckedChecks([serverName]);
  if (scanners) log.info({ rspamd: scan.rspamdUrl, clamd: `${scan.clamd.host}:${scan.clamd.port}` }, 'content checks on');
  else log.warn('TIDINGS_SCAN=off: mail is accepted without spam or virus checks, each copy says so in X-Tidings-Scan');
  const tls = mxConfig.tlsFiles
    ? { cert: readFileSync(mxConfig.tlsFiles.cert), key: readFileSync(mxConfig.tlsFiles.key) }
    : ensureSelfSignedCert(mxDir, serverName);

  // Prometheus counters see every event the queue writes; the listener itself opens below, only when configured.
  const metrics = mxConfig.metrics
    ? createMxMetrics({ readGauges: heartbeatReader(db), ackedCursor: eventLog(db).cursor, now: () => clock.now() })
    : null;

  const smtpSocket = mxConfig.smtpSocket === 'parent' ? await socketFromParent() : undefined;
  const mx = createMailSystem(
    {
      smtpHost: config.smtpHost,
      smtpPort: config.smtpPort,
      smtpSocket,
      maildirRoot: mxConfig.maildirRoot,
      serverName,
      ingress: {
        tls,
        implicitTls: mxConfig.implicitTls,
        maxMessageBytes: mxConfig.maxMessageBytes,
        maxConnectionsPerIp: mxConfig.maxConnectionsPerIp,
        maxUnknownRecipients: mxConfig.maxUnknownRecipients,
      },
      retry: { maxAgeMs: mxConfig.queueMaxAgeMs, delayedDsnAfterMs: mxConfig.delayedDsnAfterMs, firstRetryMs: mxConfig.queueFirstRetryMs },
      flow: mxConfig.flow,
      quarantineRetentionMs: mxConfig.quarantineRetentionMs,
      legacyProbe: mxConfig.legacyProbe,
    },
    {
      db,
      directory,
      clock,
      log,
      buildDsn,
      observeEvent: metrics?.observe,
      observeFlowDelay: metrics ? (ms) => metrics.observeFlowDelay(ms) : undefined,
      checks,
      legacyResolver: resolver,
      // Staff releases and deletions, fetched after each config sync (below).
      fetchQuarantineActions: mxConfig.backend
        ? createQuarantineActionsClient({ backendUrl: mxConfig.backend.url, token: mxConfig.backend.token })
        : undefined,
      transports: {
        lmtp: createLmtpTransport({ heloName: serverName }),
        forward: createForwardTransport({
          resolver,
          srs,
          clock,
          heloName: serverName,
          port: mxConfig.forwardPort,
          relay: mxConfig.forwardRelay,
        }),
        legacy: createLegacyTransport({ resolver, heloName: serverName }),
      },
    },
  );

  // The replica keeps serving when the backend is away; without a backend it serves what it has.
  const sync = mxConfig.backend
    ? createConfigSync({
        db,
        backendUrl: mxConfig.backend.url,
        token: mxConfig.backend.token,
        clock,
        log,
        intervalMs: mxConfig.syncIntervalMs,
        afterSync: () => mx.pollQuarantineActions(),
        // A changed domain's cached probe answers may be stale (a mode, host or imported address changed): ask again.
        onApplied: (changed) => mx.legacyProbe.forget(changed.reset ? 'all' : changed.domains),
      })
    : null;
  if (sync) sync.start();
  else log.warn('TIDINGS_MX_BACKEND_URL/TIDINGS_MX_TOKEN not set: serving the local replica only');

  // The event log ships on its own timers, one bounded batch per tick; the SMTP path only appends to it.
  const shipper =
    mxConfig.backend && mxConfig.telemetry
      ? createShipper({
          db,
          clock,
          log,
          post: createBackendPost({ backendUrl: mxConfig.backend.url, token: mxConfig.backend.token }),
          scanning: scanners ? 'on' : 'off',
          ...mxConfig.telemetry,
        })
      : null;
  shipper?.start();

  // Handlers first: a SIGTERM during start-up must still drain instead of killing the process.
  let stopping = false;
  let metricsListener: MetricsListener | null = null;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down: draining sessions and deliveries');
    sync?.stop();
    // The shipper aborts a POST in flight (the batch is resent after the restart; the backend dedups by seq).
    Promise.all([shipper?.stop(), mx.stop(), metricsListener?.close()]).then(
      () => {
        scanners?.spam.close();
        scanners?.virus.close();
        db.close();
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  // Under `npm start` the backend supervises this process through a stdin pipe: if the backend dies
  // (even by SIGKILL) the pipe closes and the node drains instead of lingering as an orphan on the port.
  if (mxConfig.exitWithParent) {
    process.stdin.on('close', () => shutdown('parent exited'));
    process.stdin.on('end', () => shutdown('parent exited'));
    process.stdin.resume();
  }
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));

  if (metrics && mxConfig.metrics) {
    const { host, port } = mxConfig.metrics;
    try {
      metricsListener = await listenMetrics(metrics.registry, host, port);
    } catch (err) {
      throw new ConfigError('TIDINGS_MX_METRICS_PORT', `cannot listen on ${host}:${port}: ${(err as Error).message}`);
    }
    if (stopping) void metricsListener.close();
    log.info({ port: metricsListener.port, host }, 'metrics listening');
  }

  const port = await mx.start();
  // A supervising backend (all-in-one) learns the bound port here: with TIDINGS_SMTP_PORT=0 only we know it.
  if (process.send && process.connected) process.send({ type: 'listening', port });
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) {
    console.error(`tidings mailsystem: configuration error: ${err.message}`);
    process.exit(2);
  }
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});

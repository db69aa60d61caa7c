// Composition root of the backend process: config, store, logger, HTTP listener.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { lookup } from 'node:dns/promises';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import pino from 'pino';
import { loadConfig, ConfigError, type Config } from '#data/config.ts';
import { openBackendStore } from './store/open.ts';
import { createAppWithFastPath } from './app.ts';
import { createBackendMetrics } from './http/metrics.ts';
import { createChangeCounter, systemClock, type Log } from './deps.ts';
import { startJobs } from './jobs/schedule.ts';
import { publishLegacyDefault } from './services/mail/legacyDefault.ts';
import { subscriberLinks } from './domain/subscription-links.ts';
import { linkSecret } from './store/subscriptions.ts';
import { ensureSiteBuilt } from './site/build.ts';
import { embeddedNodeToken, startEmbeddedMx, type EmbeddedMx } from './embedded-mx.ts';

let config: Config;
try {
  config = loadConfig();
} catch (e) {
  if (e instanceof ConfigError) {
    console.error(`tidings: configuration error: ${e.message}`);
    process.exit(2);
  }
  throw e;
}
const log: Log = pino({ level: config.logLevel });
const clock = systemClock;
// The public site is an Astro build: make it (or refresh it) here so `npm start` is the only command.
await ensureSiteBuilt(log, { clock });
let db: ReturnType<typeof openBackendStore>;
try {
  db = openBackendStore(config.stateDir, clock);
} catch (e) {
  // An unusable state folder is a configuration problem: say which variable to fix, not a stack trace.
  console.error(
    `tidings: configuration error: TIDINGS_STATE_DIR: cannot open the database in "${config.stateDir}": ${(e as Error).message}`,
  );
  process.exit(2);
}
const changes = createChangeCounter();
// Before anything serves nodes: a changed TIDINGS_LEGACY_HOST/_PORT moves the domains on the old value to the new one.
const movedToLegacyDefault = publishLegacyDefault({ db, clock, changes }, config.legacyDefault);
if (movedToLegacyDefault.length) log.info({ domains: movedToLegacyDefault }, 'installation legacy MX changed: domains moved to it');
const metrics = createBackendMetrics();
const { app, lookupCachedPage, refreshStatus } = createAppWithFastPath({ db, config, clock, log, changes, metrics });
// Drawn once per installation (backend migration 018): read once, not per message.
const subscriberLinkSecret = linkSecret(db);
const jobs = startJobs(
  { db, clock, log, changes, publicUrl: config.publicUrl },
  {
    telemetryRollup: config.telemetryRetention,
    quarantineIndexRetentionMs: config.quarantineIndexRetentionMs,
    shadowReportRetentionMs: config.shadowReportRetentionMs,
    statusRefresh: refreshStatus,
    // Double opt-in mails through the same relay; unconfirmed requests deleted after 48 hours.
    confirmations: { smtpUrl: config.notifySmtpUrl, from: config.notifyFrom, publicUrl: config.publicUrl },
    // Subscriber mail through the outbound relay (apart from our own MX), with each subscriber's manage/unsubscribe links.
    notifyMail: {
      smtpUrl: config.notifySmtpUrl,
      from: config.notifyFrom,
      host: new URL(config.publicUrl).hostname,
      links: (id) => subscriberLinks(config.publicUrl, subscriberLinkSecret, id),
    },
    // The system resolver: the webhook sender checks every address it answers before connecting to one of them.
    webhooks: { allowPrivate: config.webhookAllowPrivate, resolve: (host) => lookup(host, { all: true }) },
  },
);
jobs.runNow(); // catch up on plan transitions and telemetry rollups at start-up instead of waiting for the first minute
// TIDINGS_ROLE=backend runs the backend alone (MX nodes elsewhere); the default is all-in-one.
const allInOne = config.role === 'all-in-one';
let mx: EmbeddedMx | null = null;
// What @hono/node-server's serve() builds, with cached public pages answered before a Request/Response pair is made.
const honoListener = getRequestListener(app.fetch, { hostname: config.httpHost });
// Only targets and hosts @hono/node-server takes verbatim into the request URL (no normalising, decoding or 400),
// so the URL the cache is keyed by is the one Hono would see; anything else goes through Hono.
const PLAIN_TARGET = /^\/(?!\/)[A-Za-z0-9\-._~/?=&+,]*$/;
const DOT_SEGMENT = /\/\.\.?(?:[/?#]|$)/;
const PLAIN_HOST = /^[a-z0-9._-]+(?::(?:[1-5]\d{3,4}|[6-9]\d{3}))?$/;
function fastPath(req: IncomingMessage, res: ServerResponse): boolean {
  const { method, url } = req;
  const host = req.headers.host;
  if ((method !== 'GET' && method !== 'HEAD') || !url || !host) return false;
  if (!PLAIN_TARGET.test(url) || DOT_SEGMENT.test(url) || !PLAIN_HOST.test(host)) return false;
  let hit: ReturnType<typeof lookupCachedPage>;
  try {
    hit = lookupCachedPage(method, `http://${host}${url}`);
  } catch {
    return false; // Hono answers (and logs) whatever went wrong
  }
  if (!hit) return false;
  if (hit.body === null) {
    res.writeHead(hit.status, hit.headers);
    res.end();
  } else {
    res.writeHead(hit.status, { ...hit.headers, 'Content-Length': hit.body.byteLength });
    res.end(hit.body);
  }
  return true;
}
const server = createServer((req, res) => {
  const start = process.hrtime.bigint();
  // A cached public page is answered without Hono, so its metrics middleware; it is counted here under one label.
  if (fastPath(req, res))
    metrics.httpRequest(req.method ?? '', '(cached page)', res.statusCode, Number(process.hrtime.bigint() - start) / 1e9);
  else void honoListener(req, res);
});
server.listen(config.httpPort, config.httpHost, () => {
  const info = server.address() as AddressInfo;
  log.info(`tidings: http://${config.httpHost}:${info.port}/ (state in ${config.stateDir})`);
  if (allInOne) {
    const token = embeddedNodeToken({ db, clock, changes }, config.stateDir);
    const wildcard = config.httpHost === '0.0.0.0' || config.httpHost === '::';
    const host = wildcard ? '127.0.0.1' : config.httpHost.includes(':') ? `[${config.httpHost}]` : config.httpHost;
    try {
      mx = startEmbeddedMx({ config, token, backendUrl: `http://${host}:${info.port}`, log, clock });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const why = code === 'EADDRINUSE' ? 'the port is already in use' : code === 'EACCES' ? 'permission denied' : (e as Error).message;
      console.error(`tidings: cannot listen on ${config.smtpHost}:${config.smtpPort} (TIDINGS_SMTP_HOST / TIDINGS_SMTP_PORT): ${why}`);
      process.exit(2);
    }
  }
});

server.on('error', (e: NodeJS.ErrnoException) => {
  const why = e.code === 'EADDRINUSE' ? 'the port is already in use' : e.code === 'EACCES' ? 'permission denied' : e.message;
  console.error(`tidings: cannot listen on ${config.httpHost}:${config.httpPort} (TIDINGS_HTTP_HOST / TIDINGS_HTTP_PORT): ${why}`);
  process.exit(2);
});

function shutdown() {
  // A webhook request in flight records its answer before the database closes.
  const jobsStopped = jobs.stop();
  // The MX node gets its own drain deadline; the backend waits for it so no delivery is cut short.
  const mxStopped = mx ? mx.stop() : Promise.resolve();
  server.close(() => {
    void Promise.all([mxStopped, jobsStopped]).then(() => {
      db.close();
      process.exit(0);
    });
  });
  setTimeout(() => process.exit(0), 60_000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
// Rolling restart of the MX node (README): a new process takes over the SMTP socket, then the old one drains.
process.on('SIGHUP', () => {
  if (!mx) log.warn('SIGHUP: no MX node runs in this process (TIDINGS_ROLE=backend)');
  else void mx.restart();
});

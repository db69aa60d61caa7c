// Composition root of the backend process: config, store, logger, HTTP listener.
import { serve } from '@hono/node-server';
import pino from 'pino';
import { loadConfig, ConfigError } from '#data/config.ts';
import { openBackendStore } from './store/open.ts';
import { createApp } from './app.ts';
import { createChangeCounter } from './deps.ts';
import { startJobs } from './jobs/schedule.ts';
import { ensureSiteBuilt } from './site/build.ts';
import { embeddedNodeToken, startEmbeddedMx, type EmbeddedMx } from './embedded-mx.ts';

let config;
try {
  config = loadConfig();
} catch (e) {
  if (e instanceof ConfigError) {
    console.error(`tidings: configuration error: ${e.message}`);
    process.exit(2);
  }
  throw e;
}
const log = pino({ level: config.logLevel });
// The public site is an Astro build: make it (or refresh it) here so `npm start` is the only command.
await ensureSiteBuilt(log);
const clock = () => new Date();
let db: ReturnType<typeof openBackendStore>;
try {
  db = openBackendStore(config.stateDir, clock);
} catch (e) {
  // An unusable state folder is a configuration problem: say which variable to fix, not a stack trace.
  console.error(`tidings: configuration error: TIDINGS_STATE_DIR: cannot open the database in "${config.stateDir}": ${(e as Error).message}`);
  process.exit(2);
}
const changes = createChangeCounter();
const app = createApp({ db, config, clock, log, changes });
const jobs = startJobs({ db, clock, log, changes });
jobs.runNow(); // catch up on plan transitions at start-up instead of waiting for the first minute
// TIDINGS_ROLE=backend runs the backend alone (MX nodes elsewhere); the default is all-in-one.
const allInOne = config.role === 'all-in-one';
let mx: EmbeddedMx | null = null;
const server = serve({ fetch: app.fetch, hostname: config.httpHost, port: config.httpPort }, (info) => {
  log.info(`tidings: http://${config.httpHost}:${info.port}/ (state in ${config.stateDir})`);
  if (allInOne) {
    const token = embeddedNodeToken({ db, clock, changes }, config.stateDir);
    const wildcard = config.httpHost === '0.0.0.0' || config.httpHost === '::';
    const host = wildcard ? '127.0.0.1' : config.httpHost.includes(':') ? `[${config.httpHost}]` : config.httpHost;
    mx = startEmbeddedMx({ config, token, backendUrl: `http://${host}:${info.port}`, log });
    log.info(`tidings: mail system on smtp://${config.smtpHost}:${config.smtpPort}`);
  }
});

server.on('error', (e: NodeJS.ErrnoException) => {
  const why = e.code === 'EADDRINUSE' ? 'the port is already in use' : e.code === 'EACCES' ? 'permission denied' : e.message;
  console.error(`tidings: cannot listen on ${config.httpHost}:${config.httpPort} (TIDINGS_HTTP_HOST / TIDINGS_HTTP_PORT): ${why}`);
  process.exit(2);
});

function shutdown() {
  void jobs.stop();
  // The MX node gets its own drain deadline; the backend waits for it so no delivery is cut short.
  const mxStopped = mx ? mx.stop() : Promise.resolve();
  server.close(() => { void mxStopped.then(() => { db.close(); process.exit(0); }); });
  setTimeout(() => process.exit(0), 60_000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

// Benchmark entry: the Tidings mail system (app.ts, Maildir delivery, FULL sync) with fixed mailboxes; with
// `telemetry` in its config it also ships its event log to a backend, as mailsystem/main.ts does.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '#data/config.ts';
import { loadMxConfig } from '#data/config-mx.ts';
import { openNodeDatabase } from '#mailsystem/queue/open.ts';
import { createMailSystem } from '#mailsystem/app.ts';
import { buildDsn } from '#mailsystem/delivery/dsn.ts';
import { silentLog, systemClock } from '#mailsystem/deps.ts';
import { createBackendPost } from '#mailsystem/telemetry/http.ts';
import { createShipper } from '#mailsystem/telemetry/shipper.ts';
import { fakeDirectory, type FakeDirectoryData } from '../../test/support/fake-directory.ts';

// As in mailsystem/main.ts: Maildir fsyncs run in parallel on libuv's pool (read at first use).
process.env.UV_THREADPOOL_SIZE ??= '16';
const cfg = JSON.parse(readFileSync(process.argv[2], 'utf8')) as {
  stateDir: string;
  port: number;
  directory: FakeDirectoryData;
  /** Ship telemetry to this backend with this node token. */
  telemetry?: { backendUrl: string; token: string };
};
const db = openNodeDatabase(join(cfg.stateDir, 'node.sqlite'));
const mx = createMailSystem(
  {
    smtpHost: '127.0.0.1',
    smtpPort: cfg.port,
    maildirRoot: join(cfg.stateDir, 'mail'),
    serverName: 'mx.bench',
    // All load comes from 127.0.0.1, so the per-IP cap (a production default of 20) is lifted here.
    ingress: { maxConnectionsPerIp: 0, maxClients: 20_000 },
  },
  { db, directory: fakeDirectory(cfg.directory), clock: systemClock, log: silentLog, buildDsn },
);

// Shipping as mailsystem/main.ts sets it up, with the settings' defaults (TIDINGS_TELEMETRY_INTERVAL 2 s, batches of
// 500, heartbeats every 15 s), read through the same loader so a changed default is measured as it is.
const settings = cfg.telemetry
  ? loadMxConfig(loadConfig({ TIDINGS_PUBLIC_URL: 'http://localhost:8080', TIDINGS_STATE_DIR: cfg.stateDir }, '/'), {
      TIDINGS_MX_BACKEND_URL: cfg.telemetry.backendUrl,
      TIDINGS_MX_TOKEN: cfg.telemetry.token,
    })
  : null;
const shipper =
  settings?.backend && settings.telemetry
    ? createShipper({
        db,
        clock: systemClock,
        log: silentLog,
        post: createBackendPost({ backendUrl: settings.backend.url, token: settings.backend.token }),
        ...settings.telemetry,
      })
    : null;

await mx.start();
shipper?.start();
process.stdout.write('READY\n');
process.once('SIGTERM', () => {
  void Promise.all([shipper?.stop(), mx.stop()]).then(() => {
    db.close();
    process.exit(0);
  });
});

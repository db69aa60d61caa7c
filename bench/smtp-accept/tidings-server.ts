// Benchmark entry: the Tidings mail system (app.ts, Maildir delivery, FULL sync) with fixed mailboxes.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MIGRATIONS, openDatabase } from '#data/db.ts';
import { createMailSystem } from '#mailsystem/app.ts';
import { buildDsn } from '#mailsystem/delivery/dsn.ts';
import { silentLog, systemClock } from '#mailsystem/deps.ts';
import { fakeDirectory, type FakeDirectoryData } from '../../test/support/fake-directory.ts';

// As in mailsystem/main.ts: Maildir fsyncs run in parallel on libuv's pool (read at first use).
process.env.UV_THREADPOOL_SIZE ??= '16';
const cfg = JSON.parse(readFileSync(process.argv[2], 'utf8')) as { stateDir: string; port: number; directory: FakeDirectoryData };
const db = openDatabase(join(cfg.stateDir, 'node.sqlite'), { migrationsDir: MIGRATIONS.node, synchronous: 'FULL' });
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
await mx.start();
process.stdout.write('READY\n');
process.once('SIGTERM', () => {
  void mx.stop().then(() => {
    db.close();
    process.exit(0);
  });
});

// Test entry: runs mailsystem/app.ts as a real child process with a fake directory read from JSON.
// (The product entry, mailsystem/main.ts, uses the config replica; process tests need fixed data.)
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MIGRATIONS, openDatabase } from '#data/db.ts';
import { createMailSystem } from '#mailsystem/app.ts';
import { silentLog, systemClock } from '#mailsystem/queue/deps.ts';
import { fakeDirectory, type FakeDirectoryData } from './fake-directory.ts';
import { testDsn } from './mx-harness.ts';

interface MxProcessConfig {
  stateDir: string;
  port: number;
  directory: FakeDirectoryData;
  shutdownDeadlineMs?: number;
}

const config = JSON.parse(readFileSync(process.argv[2], 'utf8')) as MxProcessConfig;
const db = openDatabase(join(config.stateDir, 'node.sqlite'), { migrationsDir: MIGRATIONS.node, synchronous: 'FULL' });
const mx = createMailSystem({
  smtpHost: '127.0.0.1', smtpPort: config.port, maildirRoot: join(config.stateDir, 'mail'), serverName: 'mx.test',
  shutdownDeadlineMs: config.shutdownDeadlineMs ?? 2000,
}, { db, directory: fakeDirectory(config.directory), clock: systemClock, log: silentLog, buildDsn: testDsn });

// Before READY: a SIGTERM that arrives right after the parent reads READY must find the handler.
process.once('SIGTERM', () => {
  mx.stop().then(() => {
    db.close();
    process.exit(0);
  }, (err: unknown) => {
    process.stderr.write(`stop failed: ${String(err)}\n`);
    process.exit(1);
  });
});
const port = await mx.start();
process.stdout.write(`READY ${port}\n`);

// Test entry: runs mailsystem/app.ts as a real child process with a fake directory read from JSON.
// (The product entry, mailsystem/main.ts, uses the config replica; process tests need fixed data.)
// Opt-in: `tls` offers STARTTLS with a self-signed certificate; `stats` answers SIGUSR2 with a
// `STATS {json}` line (open sessions, smtp-server's connection set, heap after a full GC); `forward`
// serves forward routes from a zone. LMTP routes always work (the route names the server).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openNodeDatabase } from '#mailsystem/queue/open.ts';
import { createMailSystem } from '#mailsystem/app.ts';
import { createForwardTransport } from '#mailsystem/delivery/forward.ts';
import { createLmtpTransport } from '#mailsystem/delivery/lmtp.ts';
import { silentLog, systemClock } from '#mailsystem/deps.ts';
import { ensureSelfSignedCert } from '#mailsystem/smtp/self-signed.ts';
import { createSrs } from '#mailsystem/srs/srs.ts';
import { zoneResolver } from './dns-zone.ts';
import { fakeDirectory, type FakeDirectoryData } from './fake-directory.ts';
import type { MxChildExtras, MxProcessStats } from './mx-child.ts';
import { testDsn } from './mx-harness.ts';

interface MxProcessConfig extends MxChildExtras {
  stateDir: string;
  port: number;
  directory: FakeDirectoryData;
  shutdownDeadlineMs?: number;
}

const config = JSON.parse(readFileSync(process.argv[2], 'utf8')) as MxProcessConfig;
const db = openNodeDatabase(join(config.stateDir, 'node.sqlite'));
const mx = createMailSystem(
  {
    smtpHost: '127.0.0.1',
    smtpPort: config.port,
    maildirRoot: join(config.stateDir, 'mail'),
    serverName: 'mx.test',
    shutdownDeadlineMs: config.shutdownDeadlineMs ?? 2000,
    ingress: config.tls ? { tls: ensureSelfSignedCert(config.stateDir, 'mx.test') } : {},
  },
  {
    db,
    directory: fakeDirectory(config.directory),
    clock: systemClock,
    log: silentLog,
    buildDsn: testDsn,
    transports: {
      lmtp: createLmtpTransport({ heloName: 'mx.test', timeoutMs: 10_000 }),
      ...(config.forward
        ? {
            forward: createForwardTransport({
              resolver: zoneResolver(config.forward.zone),
              srs: createSrs({ domain: 'srs.mx.test', secret: 'mx-process-test-secret' }),
              clock: systemClock,
              heloName: 'mx.test',
              port: config.forward.port,
              timeoutMs: 10_000,
            }),
          }
        : {}),
    },
  },
);

// Before READY: a SIGTERM that arrives right after the parent reads READY must find the handler.
process.once('SIGTERM', () => {
  mx.stop().then(
    () => {
      db.close();
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`stop failed: ${String(err)}\n`);
      process.exit(1);
    },
  );
});
if (config.stats) {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('stats need node --expose-gc');
  process.on('SIGUSR2', () => {
    gc();
    const stats: MxProcessStats = {
      sessions: mx.ingress.server.bySession.size,
      connections: mx.ingress.server.connections.size,
      heapUsed: process.memoryUsage().heapUsed,
    };
    process.stdout.write(`STATS ${JSON.stringify(stats)}\n`);
  });
}
const port = await mx.start();
process.stdout.write(`READY ${port}\n`);

// Where Tidings' own CPU per scanned message goes on the client side: its check parts (mailsystem/checks/) driven
// alone, in this process, against the bench's scanners and DNS zone, 20 at a time; prints messages/s and this
// process's CPU per message for each part and for createChecks as the DATA hook runs it. The scanners' CPU is not in
// these numbers (run.ts measures that).
// Usage: node bench/smtp-scan/client-cost.ts [messages per part, default 1500] [parts, e.g. "rspamd,clamd" (names
// containing one of these words; default all)]. For a profile: node --cpu-prof --cpu-prof-dir=/tmp/prof-cc …, then
// node bench/smtp-e2e/profile-summary.ts /tmp/prof-cc/*.cpuprofile.
import { createAuthCheck } from '#mailsystem/checks/auth.ts';
import { createClamdClient } from '#mailsystem/checks/clamd.ts';
import { createChecks } from '#mailsystem/checks/index.ts';
import { createRspamdClient } from '#mailsystem/checks/rspamd.ts';
import { createSystemResolver } from '#mailsystem/dns/system.ts';
import { HAM_SENDER } from '../../test/support/mail-corpus.ts';
import { buildCorpus } from './corpus.ts';
import { startScanners } from './scanners.ts';

const N = Number(process.argv[2] ?? 1500);
const ONLY = process.argv[3]?.split(',').filter(Boolean);
const CONCURRENCY = 20;
const MTA = 'mx.bench.test';
const RCPT = 'user1@example.test';

const scanners = await startScanners();
try {
  const corpus = buildCorpus();
  // As mailsystem/main.ts builds them, with its default of 16 connections per scanner.
  const resolver = createSystemResolver({ servers: [`127.0.0.1:${scanners.dns.port}`] });
  const auth = createAuthCheck({ resolver, authServId: MTA, timeoutMs: 20_000 });
  const spam = createRspamdClient({ url: scanners.normal.url, timeoutMs: 20_000, maxSockets: 16, mtaName: MTA });
  const virus = createClamdClient({ host: '127.0.0.1', port: scanners.clamd.port, timeoutMs: 20_000, maxConnections: 16 });
  const checks = createChecks({ authServIds: [MTA], auth, spam, virus });
  const envelope = { ip: '127.0.0.1', helo: HAM_SENDER.helo, mailFrom: HAM_SENDER.from.address, rcpts: [RCPT], queueId: 'Q1' };
  const spamEnvelope = {
    ip: envelope.ip,
    helo: envelope.helo,
    from: envelope.mailFrom,
    rcpts: envelope.rcpts,
    queueId: envelope.queueId,
    authResults: {
      spf: { result: 'pass' as const, domain: HAM_SENDER.domain },
      dkim: [],
      dmarc: { result: 'pass' as const, policy: 'none' as const, domain: HAM_SENDER.domain },
    },
  };
  const parts: Record<string, (m: Buffer) => Promise<unknown>> = {
    'auth (mailauth, DNS)': (m) => auth(m, envelope),
    'rspamd client': (m) => spam.check(m, spamEnvelope),
    'clamd client': (m) => virus.scan(m),
    'createChecks (all)': (m) => checks({ message: m, envelope }),
  };
  console.log(`client-cost: ${N} messages per part, ${CONCURRENCY} at a time (second round after a warm-up round)`);
  for (let round = 1; round <= 2; round++) {
    for (const [name, run] of Object.entries(parts)) {
      if (ONLY && !ONLY.some((word) => name.includes(word))) continue;
      let next = 0;
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (next < N) await run(corpus.message(next++, RCPT));
        }),
      );
      const elapsed = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      if (round === 2)
        console.log(
          `  ${name.padEnd(22)} ${((N / elapsed) * 1000).toFixed(0).padStart(5)} msg/s  CPU ${((cpu.user + cpu.system) / 1000 / N).toFixed(2)} ms/msg ` +
            `(user ${(cpu.user / 1000 / N).toFixed(2)}, system ${(cpu.system / 1000 / N).toFixed(2)})`,
        );
    }
  }
  spam.close();
  virus.close();
} finally {
  await scanners.stop();
}

// The scanners of bench:smtp-scan, private on loopback (test/support's starters): one clamd and two rspamd instances
// with the same configuration except for how mail reaches them, a DNS zone both rspamd and Tidings ask, and the
// "ceiling" driver that calls rspamd's /checkv2 and clamd's zINSTREAM directly (through Tidings' own clients).
//
// - rspamd "normal" (Tidings and the ceiling): normal workers answering POST /checkv2, with http_headers on as
//   Tidings runs it (Tidings checks SPF/DKIM/DMARC itself and passes the results as request headers). No antivirus
//   module: Tidings calls clamd itself, in parallel with rspamd.
// - rspamd "milter" (Postfix): the proxy worker in milter mode scanning itself (`self_scan = yes`), the antivirus
//   module sending each whole message to the same clamd (`scan_mime_parts = false`, action reject), http_headers off
//   so that rspamd runs its own SPF/DKIM/DMARC checks, as a provider running Postfix + rspamd would.
// Two instances because one would run the antivirus module for Tidings' /checkv2 calls too (a second clamd scan of
// every message). Both get the same scanning processes: 2 (one per CPU).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createClamdClient } from '#mailsystem/checks/clamd.ts';
import { createRspamdClient } from '#mailsystem/checks/rspamd.ts';
import { type Clamd, startClamd } from '../../test/support/clamd.ts';
import { HAM_SENDER } from '../../test/support/mail-corpus.ts';
import { type ReservedPort, reservePort } from '../../test/support/ports.ts';
import { type Rspamd, SHARED_DIR, startRspamd } from '../../test/support/rspamd.ts';
import { wallNow } from '../smtp-accept/load.ts';
import { type MessageClass, classOf, type Corpus } from './corpus.ts';

/** Scanning processes per rspamd instance (the machine has 2 CPUs). */
export const RSPAMD_PROCESSES = 2;

/** zone.ts served by dns-server.ts in a child process. */
async function startDnsProcess(): Promise<{ port: number; close(): Promise<void> }> {
  const child = spawn(process.execPath, [join(import.meta.dirname, 'dns-server.ts')], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', (l) => resolve(Number(l)));
    child.once('exit', (code) => reject(new Error(`the DNS server process exited (${code}) before telling its port`)));
  });
  return {
    port,
    async close() {
      child.stdin.end(); // it closes its socket and exits
      await exited;
    },
  };
}

export interface Scanners {
  dns: { port: number };
  clamd: Clamd;
  clamdPid: () => number;
  /** For Tidings and the ceiling. */
  normal: Rspamd;
  /** For Postfix: its proxy worker's milter port. */
  milter: Rspamd;
  milterPort: number;
  stop(): Promise<void>;
}

function options(dnsPort: number): string {
  return [
    `dns {\n  nameserver = ["127.0.0.1:${dnsPort}"];\n  timeout = 0.5s;\n  retransmits = 1;\n}`,
    `hs_cache_dir = "${SHARED_DIR}/";`,
    // The spam of the mix is GTUBE's "add header" variant, honoured only with this.
    'enable_test_patterns = true;',
    '',
  ].join('\n');
}

export async function startScanners(): Promise<Scanners> {
  const stops: (() => Promise<void> | void)[] = [];
  const stop = async (): Promise<void> => {
    for (const s of stops.reverse()) await s();
  };
  try {
    const dns = await startDnsProcess();
    stops.push(() => dns.close());
    const clamd = await startClamd({ streamMaxLength: 25 * 1024 * 1024 });
    stops.push(() => clamd.stop());
    const normal = await startRspamd({ dnsPort: dns.port, workers: RSPAMD_PROCESSES, localD: { 'options.inc': options(dns.port) } });
    stops.push(() => normal.stop());
    const proxy: ReservedPort = await reservePort();
    stops.push(() => proxy.release());
    const milter = await startRspamd({
      dnsPort: dns.port,
      workers: 1, // the normal worker only answers the starter's /ping; the proxy scans
      localD: {
        'options.inc': options(dns.port),
        'worker-proxy.inc': [
          `bind_socket = "127.0.0.1:${proxy.port}";`,
          'milter = yes;',
          'timeout = 120s;',
          `count = ${RSPAMD_PROCESSES};`,
          'upstream "local" {\n  default = yes;\n  self_scan = yes;\n}',
          '',
        ].join('\n'),
        'antivirus.conf': [
          'clamav {',
          '  type = "clamav";',
          `  servers = "127.0.0.1:${clamd.port}";`,
          '  action = "reject";',
          '  scan_mime_parts = false;',
          '  symbol = "CLAM_VIRUS";',
          '  log_clean = false;',
          '  timeout = 20s;',
          '}',
          '',
        ].join('\n'),
        'http_headers.conf': 'enabled = false;\n',
      },
    });
    stops.push(() => milter.stop());
    return {
      dns,
      clamd,
      clamdPid: () => Number(readFileSync(join(clamd.dir, 'clamd.pid'), 'utf8').trim()),
      normal,
      milter,
      milterPort: proxy.port,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

export interface ScanSample {
  cls: MessageClass;
  ms: number;
  action: string;
  virus: string;
}

export interface CeilingResult {
  samples: ScanSample[];
  errors: number;
  firstAt: number;
  lastAt: number;
}

/**
 * The scanners' ceiling: `sessions` workers, each scanning its next message (rspamd and clamd in parallel, as Tidings
 * does) as soon as the previous one is done, for durationMs. Message n goes to recipients[n % length]. The calls go
 * through Tidings' own clients (mailsystem/checks/): the same request headers (envelope, MTA-Name, SPF/DKIM/DMARC
 * results) and the same connection handling (rspamd: a connection per check, as rspamd 3.4 closes each; clamd: kept
 * IDSESSION sessions), with one connection per worker, so the ceiling's clients cost what Tidings' cost.
 */
export async function driveScanners(opts: {
  rspamdPort: number;
  clamdPort: number;
  sessions: number;
  durationMs: number;
  corpus: Corpus;
  recipients: string[];
}): Promise<CeilingResult> {
  const spam = createRspamdClient({
    url: `http://127.0.0.1:${opts.rspamdPort}`,
    timeoutMs: 60_000,
    maxSockets: opts.sessions,
    mtaName: 'mx.bench.test',
  });
  const virusClient = createClamdClient({ host: '127.0.0.1', port: opts.clamdPort, timeoutMs: 60_000, maxConnections: opts.sessions });
  const rspamdCheck = async (message: Buffer, rcpt: string, n: number): Promise<string> => {
    const v = await spam.check(message, {
      ip: '127.0.0.1',
      helo: HAM_SENDER.helo,
      from: HAM_SENDER.from.address,
      rcpts: [rcpt],
      queueId: `B${n}`,
      authResults: { spf: { result: 'pass' }, dkim: [], dmarc: { result: 'pass', policy: 'none' } },
    });
    if (v.status !== 'scored') throw new Error(`rspamd: ${v.reason} ${v.detail}`);
    return v.action;
  };
  /** clamd's reply as it wrote it, for the verdict count. */
  const clamdScan = async (message: Buffer): Promise<string> => {
    const v = await virusClient.scan(message);
    if (v.status === 'error') throw new Error(`clamd: ${v.reason} ${v.detail}`);
    return v.status === 'infected' ? `stream: ${v.name} FOUND` : 'stream: OK';
  };
  const samples: ScanSample[] = [];
  let errors = 0;
  let next = 0;
  const firstAt = wallNow();
  let lastAt = firstAt;
  const stopAt = performance.now() + opts.durationMs;
  const worker = async (): Promise<void> => {
    while (performance.now() < stopAt) {
      const n = next++;
      const rcpt = opts.recipients[n % opts.recipients.length];
      const message = opts.corpus.message(n, rcpt);
      const t0 = performance.now();
      try {
        const [action, virus] = await Promise.all([rspamdCheck(message, rcpt, n), clamdScan(message)]);
        samples.push({ cls: classOf(n), ms: performance.now() - t0, action, virus });
        lastAt = wallNow();
      } catch (err) {
        // The first few, so that a failing scanner says why.
        if (errors++ < 3) console.error(`ceiling: ${(err as Error).message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: opts.sessions }, worker));
  spam.close();
  virusClient.close();
  return { samples, errors, firstAt, lastAt };
}

// A private rspamd for tests (recipe: shared/docs/real-parts.md, "rspamd"): Debian's rspamd and its stock
// /etc/rspamd/rspamd.conf, with our settings in a temp LOCAL_CONFDIR/local.d: normal worker(s) (one by default) on a reserved
// loopback port, no controller, proxy or fuzzy workers, the log in a file, and DNS from a zone server on loopback
// (test/support/dns-zone.ts; HAM_ZONE unless told otherwise), so no lookup leaves the machine. Stopped by process id.
//
// Design choices:
// - fuzzy_check is off: it resolves rspamd.com's fuzzy servers through the system resolver when the configuration
//   loads, which would be a network lookup. Every other module resolves through our zone server: lists answer
//   NXDOMAIN (not listed) at once.
// - http_headers is on, so the SPF/DKIM/DMARC results our client passes as request headers are used (Debian ships
//   it off). rspamd then runs no SPF/DKIM/DMARC checks of its own: our auth check is the one that does.
// - The hyperscan cache is shared by every instance of the run: `hs_cache_dir` in SHARED_DIR. Compiling it (the URL
//   suffix trie before the workers start, then the regexp classes in the hs_helper) takes 20-40 s on these machines;
//   a warm start takes 1-3 s. Each instance keeps its own DBDIR (control socket, history, symbol cache): those are
//   written by the running instance and must not be shared.
// - Starts are serialized by a lock file in SHARED_DIR, across the test files' processes (`npm test` runs them in
//   parallel) and within one: rspamd writes the cache files at start (compiled databases, their unserialized copies)
//   with exclusive creates, so two instances compiling at once would fail each other's writes. The lock is held
//   until the instance has its hyperscan database (read from the cache, or compiled and written), so a second start
//   waits ~20 s once and then starts warm. A lock whose holder process died is taken over (as in ports.ts).
import { type ChildProcess, spawn } from 'node:child_process';
import {
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pidAlive, stopCleanly } from './child.ts';
import { type DnsServer, startDnsServer, type Zone } from './dns-zone.ts';
import { HAM_ZONE } from './mail-corpus.ts';
import { reservePort } from './ports.ts';
import { waitFor } from './wait.ts';

/** The hyperscan cache and the start lock, shared by every rspamd the test run starts. */
export const SHARED_DIR = join(tmpdir(), 'tidings-rspamd-db');
const LOCK = join(SHARED_DIR, 'start.lock');
const RSPAMD_BIN = '/usr/bin/rspamd';
const RSPAMD_CONF = '/etc/rspamd/rspamd.conf';
/** A cold start compiles hyperscan (20-40 s here, more on a loaded CI machine); waiting for the lock can take as long. */
const START_TIMEOUT_MS = 180_000;
const STOP_DRAIN_MS = 20_000;

export interface Rspamd {
  /** Base URL of the normal worker (POST /checkv2, GET /ping). */
  url: string;
  port: number;
  /** The main process; its workers are its children. */
  pid: number;
  dir: string;
  /** The UDP port of the DNS server rspamd asks. */
  dnsPort: number;
  /** How long the start took, from spawn to a loaded hyperscan database (lock wait not included). */
  startMs: number;
  /** Whether this start found the hyperscan cache warm. */
  warm: boolean;
  /** rspamd's log so far (level info: one line per scanned message with its queue id, IP, envelope and symbols). */
  log(): string;
  /** SIGTERM to the main process, exit 0 asserted, then its workers must be gone; frees the port, DNS and folder. Idempotent. */
  stop(): Promise<void>;
}

export interface RspamdOptions {
  /** The zone rspamd's DNS answers from (default HAM_ZONE); ignored with dnsPort. */
  zone?: Zone;
  /** Use this DNS server (127.0.0.1, UDP) instead of starting one. */
  dnsPort?: number;
  /** Normal worker processes (default 1; a benchmark may want one per CPU). */
  workers?: number;
  /** Extra files for local.d, by name (e.g. `{ 'actions.conf': 'reject = 12;' }`); merged over the defaults. */
  localD?: Record<string, string>;
}

/** GET /ping answers "pong". */
export function rspamdPing(url: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get(`${url}/ping`, { agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.on('data', (c) => {
        body += c;
      });
      res.on('end', () => resolve(res.statusCode === 200 && body.trim() === 'pong'));
      res.on('error', () => resolve(false));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

// The start lock: a file holding "<pid> <token>", created with link(2) so it never exists without its content.
function tryLock(token: string): boolean {
  const draft = `${LOCK}.draft-${token}`;
  writeFileSync(draft, `${process.pid} ${token}`);
  try {
    linkSync(draft, LOCK);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    unlinkSync(draft);
  }
  let content: string;
  try {
    content = readFileSync(LOCK, 'utf8');
  } catch {
    return false; // released meanwhile: try again
  }
  const [holder, holderToken] = content.split(' ');
  if (pidAlive(Number(holder))) return false;
  // A dead holder: exactly one taker gets to remove this lock (named by its token, which no later lock has).
  try {
    writeFileSync(`${LOCK}.takeover-${holderToken ?? holder}`, String(process.pid), { flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    unlinkSync(LOCK);
  } catch {
    /* gone already */
  }
  return false; // try again, as anyone else
}

async function takeStartLock(): Promise<() => void> {
  mkdirSync(SHARED_DIR, { recursive: true });
  const token = `${process.pid}-${Math.random().toString(36).slice(2)}`;
  await waitFor(
    () => tryLock(token),
    () => `the rspamd start lock ${LOCK} (held by ${safeRead(LOCK)})`,
    {
      timeoutMs: START_TIMEOUT_MS,
      intervalMs: 100,
    },
  );
  let held = true;
  const release = (): void => {
    if (!held) return;
    held = false;
    process.off('exit', release);
    try {
      if (readFileSync(LOCK, 'utf8') === `${process.pid} ${token}`) unlinkSync(LOCK);
    } catch {
      /* gone */
    }
  };
  process.on('exit', release);
  return release;
}

function safeRead(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '(nothing)';
  }
}

/**
 * rspamd writes each cache file under a temporary name (`*.tmp`, `*.new`, `hsmp-XXXX`) and renames it. One left by an
 * rspamd killed while writing would only make later writes of that file fail (and their starts cold); under the start
 * lock nobody else is writing, so a temporary file older than a start can take is such a leftover. Old takeover
 * markers of dead locks go too.
 */
function removeStaleTempFiles(): void {
  const cutoff = Date.now() - START_TIMEOUT_MS;
  for (const name of readdirSync(SHARED_DIR)) {
    if (!/\.(tmp|new)$|^hsmp-|^start\.lock\.takeover-/.test(name)) continue;
    const file = join(SHARED_DIR, name);
    try {
      if (statSync(file).mtimeMs < cutoff) unlinkSync(file);
    } catch {
      /* gone meanwhile */
    }
  }
}

/** The process ids whose parent is `pid` (rspamd's workers). */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}

/**
 * The hyperscan database is in place: read whole from the cache by the main process (warm), or compiled and written
 * by the hs_helper (cold). Both are info-level lines of rspamd 3.4. A CPU without SSSE3 runs without hyperscan.
 */
function hyperscanState(log: string): 'warm' | 'compiled' | 'none' | null {
  if (log.includes("CPU doesn't have SSSE3 instructions set required for hyperscan")) return 'none';
  if (/rspamd_re_cache_load_hyperscan: full hyperscan database of \d+ regexps has been loaded/.test(log)) return 'warm';
  if (/rspamd_rs_compile_cb: compiled \d+ regular expressions to the hyperscan tree/.test(log)) return 'compiled';
  return null;
}

/** Starts rspamd; throws (so the test fails, never skips) when rspamd is not installed or does not come up. */
export async function startRspamd(opts: RspamdOptions = {}): Promise<Rspamd> {
  if (!existsSync(RSPAMD_BIN) || !existsSync(RSPAMD_CONF))
    throw new Error(`rspamd is not installed (${RSPAMD_BIN}, ${RSPAMD_CONF}): apt-get install rspamd (.ci/run does)`);
  const dir = mkdtempSync(join(tmpdir(), 'tidings-rspamd-'));
  const conf = join(dir, 'conf');
  const logFile = join(dir, 'log', 'rspamd.log');
  for (const d of ['conf/local.d', 'db', 'run', 'log']) mkdirSync(join(dir, d), { recursive: true });
  const reserved = await reservePort();
  let dns: DnsServer | undefined;
  let child: ChildProcess | undefined;
  let releaseLock: (() => void) | undefined;
  let output = '';
  const log = (): string => safeRead(logFile);
  const cleanup = async (): Promise<void> => {
    releaseLock?.();
    if (child && child.exitCode === null && child.signalCode === null) {
      const pids = childPids(child.pid!);
      child.kill('SIGKILL');
      for (const p of pids) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
    await dns?.close();
    reserved.release();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    if (opts.dnsPort === undefined) dns = await startDnsServer(opts.zone ?? HAM_ZONE);
    const dnsPort = opts.dnsPort ?? dns!.port;
    const port = reserved.port;
    const files: Record<string, string> = {
      'worker-normal.inc': `bind_socket = "127.0.0.1:${port}";\ncount = ${opts.workers ?? 1};\n`,
      'worker-controller.inc': 'enabled = false;\n',
      'worker-proxy.inc': 'enabled = false;\n',
      'worker-fuzzy.inc': 'enabled = false;\ncount = -1;\n',
      'logging.inc': `type = "file";\nfilename = "${logFile}";\nlevel = "info";\n`,
      'options.inc': [
        `dns {\n  nameserver = ["127.0.0.1:${dnsPort}"];\n  timeout = 0.5s;\n  retransmits = 1;\n}`,
        `hs_cache_dir = "${SHARED_DIR}/";`,
        '',
      ].join('\n'),
      'fuzzy_check.conf': 'enabled = false;\n',
      'http_headers.conf': 'enabled = true;\n',
      ...opts.localD,
    };
    for (const [name, text] of Object.entries(files)) writeFileSync(join(conf, 'local.d', name), text);

    releaseLock = await takeStartLock();
    removeStaleTempFiles();
    const spawned = Date.now();
    const proc = spawn(
      RSPAMD_BIN,
      [
        '-f',
        '-u',
        'root',
        '-g',
        'root',
        '-i',
        '-c',
        RSPAMD_CONF,
        `--var=LOCAL_CONFDIR=${conf}`,
        `--var=DBDIR=${join(dir, 'db')}`,
        `--var=RUNDIR=${join(dir, 'run')}`,
        `--var=LOGDIR=${join(dir, 'log')}`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = proc;
    let spawnError: Error | undefined;
    proc.on('error', (e) => {
      spawnError = e;
    });
    proc.stdout!.on('data', (c) => {
      output += c;
    });
    proc.stderr!.on('data', (c) => {
      output += c;
    });
    const url = `http://127.0.0.1:${port}`;
    await waitFor(
      async () => {
        if (spawnError) throw new Error(`cannot run ${RSPAMD_BIN}: ${spawnError.message}`);
        if (proc.exitCode !== null || proc.signalCode !== null)
          throw new Error(`rspamd exited (${proc.exitCode ?? proc.signalCode}) before answering`);
        return hyperscanState(log()) !== null && (await rspamdPing(url));
      },
      `rspamd answering /ping on ${port} with its hyperscan database loaded`,
      { timeoutMs: START_TIMEOUT_MS, intervalMs: 50 },
    );
    const startMs = Date.now() - spawned;
    releaseLock();
    let stopped: Promise<void> | undefined;
    return {
      url,
      port,
      pid: proc.pid!,
      dir,
      dnsPort,
      startMs,
      warm: hyperscanState(log()) === 'warm',
      log,
      stop() {
        stopped ??= (async () => {
          const workers = childPids(proc.pid!);
          try {
            await stopCleanly(proc, 'rspamd', STOP_DRAIN_MS, { output: () => `${output}\n${log().slice(-3000)}` });
            await waitFor(
              () => workers.every((p) => !pidAlive(p)),
              () => `rspamd's workers ${workers.filter(pidAlive).join(', ')} to exit`,
              {
                timeoutMs: STOP_DRAIN_MS,
                intervalMs: 20,
              },
            );
          } finally {
            for (const p of workers.filter(pidAlive)) {
              try {
                process.kill(p, 'SIGKILL');
              } catch {
                /* gone */
              }
            }
            await dns?.close();
            reserved.release();
            rmSync(dir, { recursive: true, force: true });
          }
        })();
        return stopped;
      },
    };
  } catch (err) {
    const text = `${output}\n${log().slice(-3000)}`.trim();
    await cleanup();
    throw new Error(`${(err as Error).message}${text ? `:\n${text}` : ''}`);
  }
}

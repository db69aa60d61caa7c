// bench:smtp-scan — issue 12's performance section: mail scanned for spam and viruses end to end (SMTP accept through
// rspamd and clamd to Maildir), 4 KiB mixed ham/spam/virus, against (a) the scanners' own ceiling (rspamd /checkv2 and
// clamd zINSTREAM driven directly at the same concurrency) and (b) Postfix with rspamd as a milter, in the same run.
// Method and numbers: bench/smtp-scan/README.md; the two MTAs are started by mtas.ts.
import { chmodSync, mkdirSync, mkdtempSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { pidAlive } from '../../test/support/child.ts';
import { type ReservedPort, reservePort } from '../../test/support/ports.ts';
import { waitFor } from '../../test/support/wait.ts';
import { countFiles, loadAverage, pct, takeNewFiles } from '../lib/mailboxes.ts';
import { type Cleanup, runMain } from '../lib/run-main.ts';
import { treeCpuMs } from '../smtp-accept/proc-stats.ts';
import { buildCorpus, CLASSES, type Corpus, classOf, type MessageClass } from './corpus.ts';
import { PROFILE_DIR, type Setup, startPostfixWithMilter, startTidings } from './mtas.ts';
import { driveScanners, RSPAMD_PROCESSES, type Scanners, startScanners } from './scanners.ts';
import { driveSmtp } from './smtp-drive.ts';

const SESSIONS = (process.env.BENCH_SESSIONS ?? '20,100').split(',').map(Number);
const DURATION_MS = Number(process.env.BENCH_SECONDS ?? 10) * 1000;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 1);
const WARMUP_MS = 2000;
const MAILBOXES = 50;
const DOMAIN = 'example.test';
const DRAIN_TIMEOUT_MS = 5 * 60_000;

type SystemName = 'ceiling' | 'tidings' | 'postfix';
/** BENCH_SYSTEMS picks some (e.g. `tidings` alone for a CPU profile); the ratios need all three. */
const SYSTEMS = (process.env.BENCH_SYSTEMS ?? 'ceiling,tidings,postfix').split(',') as SystemName[];
for (const s of SYSTEMS) if (!['ceiling', 'tidings', 'postfix'].includes(s)) throw new Error(`BENCH_SYSTEMS: unknown system ${s}`);

/** What each class should come to: scanned clean and delivered, tagged and delivered, refused (or found). */
const EXPECTED: Record<MessageClass, { mta: string; ceiling: string }> = {
  ham: { mta: 'delivered', ceiling: 'clean' },
  spam: { mta: 'tagged', ceiling: 'add header' },
  virus: { mta: 'rejected', ceiling: 'found' },
};

interface Quantiles {
  p50: number;
  p99: number;
}

interface Run {
  system: SystemName;
  sessions: number;
  round: number;
  /** Messages fully handled (delivered to a mailbox or refused; for the ceiling: scanned by both). */
  handled: number;
  /** From the first send to the last reply or mailbox file (the ceiling: to the last scan's answer). */
  spanMs: number;
  rate: number;
  /** The ceiling: scan latency; MTAs: end of DATA to the final reply (the scan is inside). */
  reply: Quantiles;
  /** MTAs, delivered messages: final 250 to the file in new/, and end of DATA to the file in new/. */
  toMailbox?: Quantiles;
  dataToMailbox?: Quantiles;
  /** "<class> <outcome>" → messages. */
  outcomes: Map<string, number>;
  unexpected: number;
  errors: number;
  errorReplies: string[];
  /** Tidings: auth, rspamd and clamd times from the verdicts of its refused (virus) messages. */
  checkTimes?: Record<'auth' | 'spam' | 'virus', Quantiles>;
  /**
   * CPU seconds per 1000 handled messages: the bench's own process (the SMTP load generator, or for the ceiling its
   * rspamd and clamd clients), the MTA's process tree (0 for the ceiling), rspamd's tree, clamd.
   */
  cpu: { driver: number; mta: number; rspamd: number; clamd: number };
}

const dir = mkdtempSync(join(tmpdir(), 'tidings-scan-'));
chmodSync(dir, 0o755); // Postfix's daemons must traverse into its queue
const cleanups: Cleanup[] = [];

const quantiles = (values: number[]): Quantiles => {
  const s = Float64Array.from(values).sort();
  return { p50: pct(s, 0.5), p99: pct(s, 0.99) };
};
const f0 = (n: number): string => (Number.isFinite(n) ? n.toFixed(0) : '-');
const bump = (m: Map<string, number>, k: string): void => {
  m.set(k, (m.get(k) ?? 0) + 1);
};

/** Tidings' tag (mailsystem/policy/decide.ts) and rspamd's milter's (worker-proxy's spam_header). */
const TAGGED = /^(X-Spam-Flag: YES|X-Spam: Yes)\r?$/im;

/** Every file in new/: its X-Bench-Id, mtime and whether its header says spam; each file is removed after reading. */
function collectMailboxes(root: string): { files: Map<number, { mtime: number; tagged: boolean }>; unmatched: number; duplicates: number } {
  const files = new Map<number, { mtime: number; tagged: boolean }>();
  let unmatched = 0;
  let duplicates = 0;
  for (const f of takeNewFiles(root, DOMAIN, MAILBOXES, 8192)) {
    if (f.id === null) {
      unmatched++;
      continue;
    }
    if (files.has(f.id)) duplicates++;
    files.set(f.id, { mtime: f.mtime, tagged: TAGGED.test(f.head) });
  }
  return { files, unmatched, duplicates };
}

interface Mta {
  name: 'tidings' | 'postfix';
  port: number;
  pid: () => number;
  queueEmpty: () => boolean;
  maildirRoot: string;
  /** Tidings: its last event's seq, and the check times (ms) its 'rejected' events after that seq recorded. */
  lastSeq?: () => number;
  checkTimes?: (afterSeq: number) => { auth: number[]; spam: number[]; virus: number[] };
}

interface Context {
  corpus: Corpus;
  recipients: string[];
  scanners: Scanners;
  tidings: Mta;
  postfix: Mta;
}

function cpuOf(pids: { mta?: number; rspamd: number; clamd: number }): { mta: number; rspamd: number; clamd: number } {
  return { mta: pids.mta === undefined ? 0 : treeCpuMs(pids.mta), rspamd: treeCpuMs(pids.rspamd), clamd: treeCpuMs(pids.clamd) };
}

async function measureCeiling(ctx: Context, sessions: number, round: number, durationMs: number): Promise<Run> {
  const { scanners } = ctx;
  const pids = { rspamd: scanners.normal.pid, clamd: scanners.clamdPid() };
  const cpu0 = cpuOf(pids);
  const driver0 = process.cpuUsage();
  const r = await driveScanners({
    rspamdPort: scanners.normal.port,
    clamdPort: scanners.clamd.port,
    sessions,
    durationMs,
    corpus: ctx.corpus,
    recipients: ctx.recipients,
  });
  const cpu1 = cpuOf(pids);
  const driver = process.cpuUsage(driver0);
  const outcomes = new Map<string, number>();
  let unexpected = 0;
  for (const s of r.samples) {
    const outcome = s.virus.endsWith('FOUND')
      ? 'found'
      : s.virus === 'stream: OK'
        ? s.action === 'no action'
          ? 'clean'
          : s.action
        : `clamd ${s.virus}`;
    bump(outcomes, `${s.cls} ${outcome}`);
    if (outcome !== EXPECTED[s.cls].ceiling) unexpected++;
  }
  const handled = r.samples.length;
  return {
    system: 'ceiling',
    sessions,
    round,
    handled,
    spanMs: r.lastAt - r.firstAt,
    rate: handled / ((r.lastAt - r.firstAt) / 1000),
    reply: quantiles(r.samples.map((s) => s.ms)),
    outcomes,
    unexpected,
    errors: r.errors,
    errorReplies: [],
    // "mta" here: the driver's own process (its HTTP and clamd clients, building the messages), the part Tidings' clients play.
    cpu: {
      driver: (driver.user + driver.system) / 1000 / handled,
      mta: 0,
      rspamd: (cpu1.rspamd - cpu0.rspamd) / handled,
      clamd: (cpu1.clamd - cpu0.clamd) / handled,
    },
  };
}

async function measureMta(ctx: Context, mta: Mta, sessions: number, round: number, durationMs: number): Promise<Run> {
  const { scanners } = ctx;
  const pids = { mta: mta.pid(), rspamd: mta.name === 'tidings' ? scanners.normal.pid : scanners.milter.pid, clamd: scanners.clamdPid() };
  const seq0 = mta.lastSeq?.() ?? 0;
  const cpu0 = cpuOf(pids);
  const driver0 = process.cpuUsage();
  const r = await driveSmtp({ port: mta.port, sessions, durationMs, corpus: ctx.corpus, recipients: ctx.recipients });
  const accepted = r.samples.filter((s) => s.code === 250).length;
  // Listing 50 growing folders every 50 ms would take CPU from the servers: count files only once the queue is empty.
  await waitFor(
    () => mta.queueEmpty() && countFiles(mta.maildirRoot, DOMAIN, MAILBOXES) >= accepted,
    () => `${mta.name} to deliver ${accepted} messages (${countFiles(mta.maildirRoot, DOMAIN, MAILBOXES)} files)`,
    { timeoutMs: DRAIN_TIMEOUT_MS, intervalMs: 50 },
  );
  const cpu1 = cpuOf(pids);
  const driver = process.cpuUsage(driver0);
  const { files, unmatched, duplicates } = collectMailboxes(mta.maildirRoot);
  const outcomes = new Map<string, number>();
  let unexpected = unmatched + duplicates;
  if (unmatched) bump(outcomes, `unmatched files ${unmatched}`);
  if (duplicates) bump(outcomes, `duplicate files ${duplicates}`);
  const toMailbox: number[] = [];
  const dataToMailbox: number[] = [];
  let end = r.samples.reduce((m, s) => Math.max(m, s.replyAt), r.firstAt);
  for (const s of r.samples) {
    const cls = classOf(s.n);
    const file = files.get(s.n);
    let outcome: string;
    if (s.code === 250) {
      if (!file) outcome = 'accepted, not in its mailbox';
      else {
        outcome = file.tagged ? 'tagged' : 'delivered';
        toMailbox.push(file.mtime - s.replyAt);
        dataToMailbox.push(file.mtime - s.dataAt);
        if (file.mtime > end) end = file.mtime;
      }
    } else outcome = s.code >= 500 ? 'rejected' : `answered ${s.code}`;
    bump(outcomes, `${cls} ${outcome}`);
    if (outcome !== EXPECTED[cls].mta) unexpected++;
  }
  const handled = r.samples.filter((s) => s.code === 250 || s.code >= 500).length;
  const spanMs = end - r.firstAt;
  const times = mta.checkTimes?.(seq0);
  return {
    system: mta.name,
    sessions,
    round,
    handled,
    spanMs,
    rate: handled / (spanMs / 1000),
    reply: quantiles(r.samples.map((s) => s.replyAt - s.dataAt)),
    toMailbox: quantiles(toMailbox),
    dataToMailbox: quantiles(dataToMailbox),
    outcomes,
    unexpected,
    errors: r.errors,
    errorReplies: r.errorReplies,
    ...(times ? { checkTimes: { auth: quantiles(times.auth), spam: quantiles(times.spam), virus: quantiles(times.virus) } } : {}),
    cpu: {
      driver: (driver.user + driver.system) / 1000 / handled,
      mta: (cpu1.mta - cpu0.mta) / handled,
      rspamd: (cpu1.rspamd - cpu0.rspamd) / handled,
      clamd: (cpu1.clamd - cpu0.clamd) / handled,
    },
  };
}

function measure(ctx: Context, system: SystemName, sessions: number, round: number, durationMs = DURATION_MS): Promise<Run> {
  if (system === 'ceiling') return measureCeiling(ctx, sessions, round, durationMs);
  return measureMta(ctx, system === 'tidings' ? ctx.tidings : ctx.postfix, sessions, round, durationMs);
}

function outcomeText(r: Run): string {
  return [...r.outcomes.entries()]
    .sort(([a], [b]) => CLASSES.indexOf(a.split(' ')[0] as MessageClass) - CLASSES.indexOf(b.split(' ')[0] as MessageClass))
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
}

const cpuTotal = (r: Run): number => r.cpu.driver + r.cpu.mta + r.cpu.rspamd + r.cpu.clamd;

function printRun(r: Run): void {
  const lat =
    r.system === 'ceiling'
      ? `scan p50 ${f0(r.reply.p50)} ms p99 ${f0(r.reply.p99)} ms`
      : `DATA reply p50 ${f0(r.reply.p50)} p99 ${f0(r.reply.p99)} ms, 250-to-mailbox p50 ${f0(r.toMailbox?.p50 ?? Number.NaN)} p99 ${f0(r.toMailbox?.p99 ?? Number.NaN)} ms, ` +
        `DATA-to-mailbox p50 ${f0(r.dataToMailbox?.p50 ?? Number.NaN)} p99 ${f0(r.dataToMailbox?.p99 ?? Number.NaN)} ms`;
  console.log(
    `[${r.sessions} sessions] round ${r.round} ${r.system.padEnd(7)} ${r.handled} handled in ${(r.spanMs / 1000).toFixed(1)} s: ${f0(r.rate)} msg/s  ${lat}  ` +
      `CPU ms/msg: bench ${r.cpu.driver.toFixed(2)}, ${r.system === 'ceiling' ? '' : `${r.system} ${r.cpu.mta.toFixed(2)}, `}rspamd ${r.cpu.rspamd.toFixed(2)}, ` +
      `clamd ${r.cpu.clamd.toFixed(2)} = ${cpuTotal(r).toFixed(2)}  errors ${r.errors}`,
  );
  const t = r.checkTimes;
  if (t)
    console.log(
      `    Tidings' own check times (verdicts of its ${r.outcomes.get('virus rejected') ?? 0} refused viruses): auth p50 ${f0(t.auth.p50)} p99 ${f0(t.auth.p99)} ms, ` +
        `then rspamd p50 ${f0(t.spam.p50)} p99 ${f0(t.spam.p99)} ms; clamd (in parallel) p50 ${f0(t.virus.p50)} p99 ${f0(t.virus.p99)} ms`,
    );
  console.log(
    `    verdicts: ${outcomeText(r)}${r.unexpected ? `  UNEXPECTED ${r.unexpected}` : ''}${r.errorReplies.length ? `  first errors: ${r.errorReplies.join(' | ')}` : ''}`,
  );
}

function printSummary(runs: Run[]): void {
  const mean = (rs: Run[], f: (r: Run) => number): number => rs.reduce((s, r) => s + f(r), 0) / rs.length;
  console.log(`\nsummary (mean over ${ROUNDS} round(s)); load average at the end ${loadAverage()}`);
  console.log(
    '| sessions | system | msgs/s | DATA reply (ceiling: scan) p50 / p99 ms | 250-to-mailbox p50 / p99 ms | DATA-to-mailbox p50 / p99 ms | CPU ms/msg bench / MTA / rspamd / clamd = all | unexpected verdicts | errors |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const sessions of SESSIONS) {
    for (const system of SYSTEMS) {
      const rs = runs.filter((r) => r.sessions === sessions && r.system === system);
      if (rs.length === 0) continue;
      const q = (f: (r: Run) => Quantiles | undefined): string =>
        `${f0(mean(rs, (r) => f(r)?.p50 ?? Number.NaN))} / ${f0(mean(rs, (r) => f(r)?.p99 ?? Number.NaN))}`;
      console.log(
        `| ${sessions} | ${system === 'ceiling' ? 'scanners (ceiling)' : system === 'tidings' ? 'Tidings' : 'Postfix + rspamd milter'} | ${f0(mean(rs, (r) => r.rate))} | ` +
          `${f0(mean(rs, (r) => r.reply.p50))} / ${f0(mean(rs, (r) => r.reply.p99))} | ${system === 'ceiling' ? '–' : q((r) => r.toMailbox)} | ` +
          `${system === 'ceiling' ? '–' : q((r) => r.dataToMailbox)} | ${mean(rs, (r) => r.cpu.driver).toFixed(2)} / ${system === 'ceiling' ? '–' : mean(rs, (r) => r.cpu.mta).toFixed(2)} / ` +
          `${mean(rs, (r) => r.cpu.rspamd).toFixed(2)} / ${mean(rs, (r) => r.cpu.clamd).toFixed(2)} = ${mean(rs, cpuTotal).toFixed(2)} | ${rs.reduce((s, r) => s + r.unexpected, 0)} | ${rs.reduce((s, r) => s + r.errors, 0)} |`,
      );
    }
  }
  console.log('');
  for (const sessions of SESSIONS) {
    const of = (s: SystemName) => runs.filter((r) => r.sessions === sessions && r.system === s);
    const [c, t, p] = [of('ceiling'), of('tidings'), of('postfix')];
    if (!c.length || !t.length || !p.length) continue;
    const tc = mean(t, (r) => r.rate) / mean(c, (r) => r.rate);
    const tp = mean(t, (r) => r.rate) / mean(p, (r) => r.rate);
    const [t99, p99] = [mean(t, (r) => r.dataToMailbox?.p99 ?? Number.NaN), mean(p, (r) => r.dataToMailbox?.p99 ?? Number.NaN)];
    console.log(
      `${String(sessions).padStart(3)} sessions: Tidings/ceiling ${(tc * 100).toFixed(0)} % (goal ≥ 80 %: ${tc >= 0.8 ? 'met' : 'NOT met'}), ` +
        `Tidings/Postfix+rspamd ${tp.toFixed(2)}x (goal ≥ 1.0x: ${tp >= 1 ? 'met' : 'NOT met'}), ` +
        `DATA-to-mailbox p99 Tidings ${f0(t99)} ms vs Postfix+rspamd ${f0(p99)} ms (${(t99 / p99).toFixed(2)}x; goal no worse: ${t99 <= p99 ? 'met' : 'NOT met'}); ` +
        `DATA reply p99 Tidings ${f0(mean(t, (r) => r.reply.p99))} ms vs ${f0(mean(p, (r) => r.reply.p99))} ms`,
    );
    // When every process shares the same CPUs and they are the limit, msgs/s ≈ CPU available / CPU per message: this
    // ratio does not depend on how busy the machine was during each system's turn.
    const [cc, ct, cp] = [mean(c, cpuTotal), mean(t, cpuTotal), mean(p, cpuTotal)];
    console.log(
      `${String(sessions).padStart(3)} sessions, CPU-bound estimate (all processes' CPU per message: ceiling ${cc.toFixed(2)} ms, Tidings ${ct.toFixed(2)} ms, ` +
        `Postfix+rspamd ${cp.toFixed(2)} ms): Tidings/ceiling ${((cc / ct) * 100).toFixed(0)} %, Tidings/Postfix+rspamd ${(cp / ct).toFixed(2)}x`,
    );
  }
}

async function main(): Promise<void> {
  const corpus = buildCorpus();
  const recipients = Array.from({ length: MAILBOXES }, (_, i) => `user${i}@${DOMAIN}`);
  console.log(`bench:smtp-scan — load average at start ${loadAverage()}; machine: ${cpus().length} CPUs, node ${process.version}`);
  const started = Date.now();
  const scanners = await startScanners();
  cleanups.push(() => scanners.stop());
  const ports: ReservedPort[] = [await reservePort(), await reservePort()];
  cleanups.push(() => {
    for (const p of ports) p.release();
  });
  const [tidingsPort, postfixPort] = ports.map((p) => p.port);
  const setup: Setup = { dir, cleanups, domain: DOMAIN, mailboxes: MAILBOXES };
  const { proc, stateDir } = await startTidings(setup, tidingsPort, scanners);
  const postfix = await startPostfixWithMilter(setup, postfixPort, scanners, recipients);
  const tdb = new Database(join(stateDir, 'mx', 'node.sqlite'), { readonly: true });
  cleanups.push(() => {
    tdb.close();
  });
  const queued = tdb.prepare("SELECT EXISTS (SELECT 1 FROM deliveries WHERE state = 'queued')").pluck();
  const lastSeq = tdb.prepare('SELECT ifnull(max(seq), 0) FROM events').pluck();
  const rejected = tdb.prepare("SELECT detail FROM events WHERE seq > ? AND type = 'rejected' AND detail IS NOT NULL").pluck();
  const checkTimes = (after: number): { auth: number[]; spam: number[]; virus: number[] } => {
    const out = { auth: [] as number[], spam: [] as number[], virus: [] as number[] };
    for (const d of rejected.all(after) as string[]) {
      const v = (JSON.parse(d) as { verdict?: Record<'auth' | 'spam' | 'virus', { ms?: number }> }).verdict;
      if (!v) continue;
      for (const k of ['auth', 'spam', 'virus'] as const) if (typeof v[k]?.ms === 'number') out[k].push(v[k].ms as number);
    }
    return out;
  };
  const ctx: Context = {
    corpus,
    recipients,
    scanners,
    tidings: {
      name: 'tidings',
      port: tidingsPort,
      pid: () => proc.pid as number,
      queueEmpty: () => queued.get() === 0,
      maildirRoot: join(stateDir, 'mx', 'mail'),
      lastSeq: () => lastSeq.get() as number,
      checkTimes,
    },
    postfix: {
      name: 'postfix',
      port: postfixPort,
      pid: () => postfix.masterPid(),
      queueEmpty: () => postfix.queueEmpty(),
      maildirRoot: postfix.maildirRoot,
    },
  };
  console.log(
    `started in ${((Date.now() - started) / 1000).toFixed(1)} s: clamd :${scanners.clamd.port}, rspamd /checkv2 :${scanners.normal.port} (${RSPAMD_PROCESSES} normal workers; ` +
      `${scanners.normal.warm ? 'warm' : 'cold'} hyperscan cache), rspamd milter :${scanners.milterPort} (${RSPAMD_PROCESSES} proxy workers, self_scan, antivirus → clamd), ` +
      `Tidings mailsystem/main.ts :${tidingsPort} (TIDINGS_SCAN=on), Postfix :${postfixPort} (smtpd_milters → rspamd)`,
  );
  console.log(
    `mix: 70 % ham ${corpus.sizes.ham} B, 20 % spam (rspamd "add header" GTUBE) ${corpus.sizes.spam} B, 10 % virus (EICAR attachment) ${corpus.sizes.virus} B; ` +
      `${MAILBOXES} mailboxes; closed loop ${DURATION_MS / 1000} s per system (MTAs: then until all accepted mail is in new/), ${ROUNDS} round(s), ` +
      `after ${WARMUP_MS / 1000} s of uncounted warm-up per system and session count\n`,
  );
  if (process.env.BENCH_CPU_PROFILE) mkdirSync(PROFILE_DIR, { recursive: true });

  const runs: Run[] = [];
  for (const sessions of SESSIONS) {
    for (const s of SYSTEMS) {
      const w = await measure(ctx, s, sessions, 0, WARMUP_MS);
      // A warm-up that went wrong (a scanner skipped, the milter not in the path) says so before minutes are spent.
      if (w.unexpected || w.errors) printRun(w);
    }
    for (let round = 1; round <= ROUNDS; round++) {
      for (const s of round % 2 === 1 ? SYSTEMS : [...SYSTEMS].reverse()) {
        const r = await measure(ctx, s, sessions, round);
        runs.push(r);
        printRun(r);
      }
    }
  }
  printSummary(runs);
  if (!pidAlive(proc.pid as number)) throw new Error('the Tidings node died during the run');
}

runMain(main, cleanups, dir);

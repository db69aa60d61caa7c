// bench:smtp-e2e — accepted AND in the mailbox: Tidings vs a private Postfix in the same run (issue 11), with each
// message's delay from its final 250 to its file in Maildir new/, measured the same way for both.
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import Database from 'better-sqlite3';
import { maildirUsers } from '../../test/support/fake-directory.ts';
import { type PostfixInstance, startPostfix } from '../../test/support/postfix.ts';
import { isListening, type ReservedPort, reservePort } from '../../test/support/ports.ts';
import { waitFor } from '../../test/support/wait.ts';
import { countFiles, loadAverage, pct, takeNewFiles } from '../lib/mailboxes.ts';
import { type Cleanup, runMain } from '../lib/run-main.ts';
import { type DriveResult, drive } from '../smtp-accept/load.ts';
import { treeCpuMs } from '../smtp-accept/proc-stats.ts';

const SESSIONS = (process.env.BENCH_SESSIONS ?? '20,100').split(',').map(Number);
const DURATION_MS = Number(process.env.BENCH_SECONDS ?? 15) * 1000;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 1);
const PACED_SHARE = 0.8;
/** Untimed load per target before each session count's runs (delivered and removed before the first run). */
const WARMUP_MS = 2000;
const MAILBOXES = 50;
const BODY = 4096;
const DOMAIN = 'example.test';
/** A drain that takes longer than this is reported as a failure rather than waited out. */
const DRAIN_TIMEOUT_MS = 15 * 60_000;

const dir = mkdtempSync(join(tmpdir(), 'tidings-e2e-'));
chmodSync(dir, 0o755); // Postfix daemons (user postfix) must traverse into its queue
/** Run last first at the end: the database, Postfix, Tidings, then the ports. */
const cleanups: Cleanup[] = [];

interface Target {
  name: 'tidings' | 'postfix';
  port: number;
  pid: () => number;
  /** Nothing left in the target's own queue. */
  queueEmpty: () => boolean;
  /** <root>/<domain>/<local>/Maildir/new for each mailbox. */
  maildirRoot: string;
  /** Tidings: the last event's seq, and latency_ms of its 'delivered' events after a seq (sorted). */
  lastSeq?: () => number;
  deliveredLatencies?: (afterSeq: number) => number[];
}

interface Run {
  target: string;
  sessions: number;
  round: number;
  mode: 'closed' | 'paced';
  rate?: number;
  load: DriveResult;
  /** From the first send to the last final 250, and to the last file's mtime (ms). */
  loadMs: number;
  e2eMs: number;
  acceptRate: number;
  e2eRate: number;
  /** Messages in their mailboxes by the last final 250, per second of load: delivery while it shares the machine with acceptance. */
  duringLoadRate: number;
  cpuPer1000: number;
  delay: { p50: number; p99: number; max: number };
  files: number;
  unmatched: number;
  duplicates: number;
  events?: { p50: number; p99: number; n: number };
}

const f0 = (n: number): string => n.toFixed(0);
const f1 = (n: number): string => n.toFixed(1);

/**
 * Matches every file in new/ to its message by its X-Bench-Id header (within the first 2 KiB: both servers only
 * prepend a few trace headers), takes its mtime as the time it reached the mailbox, and removes it so the next run
 * starts from empty mailboxes.
 */
function scanDelays(
  root: string,
  acceptedAt: Float64Array,
  /** Also count the files written by this time. */
  by: number,
): { delays: Float64Array; lastMtime: number; files: number; filesBy: number; unmatched: number; duplicates: number } {
  const delays: number[] = [];
  const seen = new Uint8Array(acceptedAt.length);
  let lastMtime = Number.NEGATIVE_INFINITY;
  let filesBy = 0;
  let files = 0;
  let unmatched = 0;
  let duplicates = 0;
  for (const { id, mtime } of takeNewFiles(root, DOMAIN, MAILBOXES, 2048)) {
    files++;
    if (mtime > lastMtime) lastMtime = mtime;
    if (mtime <= by) filesBy++;
    if (id === null || id >= acceptedAt.length || Number.isNaN(acceptedAt[id])) {
      unmatched++;
      continue;
    }
    if (seen[id]) duplicates++;
    seen[id] = 1;
    delays.push(mtime - acceptedAt[id]);
  }
  return { delays: Float64Array.from(delays).sort(), lastMtime, files, filesBy, unmatched, duplicates };
}

async function measure(
  t: Target,
  sessions: number,
  round: number,
  recipients: string[],
  rate?: number,
  durationMs = DURATION_MS,
): Promise<Run> {
  const pid = t.pid();
  const seq0 = t.lastSeq?.() ?? 0;
  const cpu0 = treeCpuMs(pid);
  const load = await drive({
    port: t.port,
    sessions,
    durationMs,
    warmupMs: 0,
    bodyBytes: BODY,
    recipients,
    tagMessages: true,
    ...(rate ? { ratePerSec: rate } : {}),
  });
  // The run ends when the queue is empty and every accepted message is a file in new/ (counted only once the queue
  // is empty: listing 50 growing directories every 50 ms would take CPU from the servers under test).
  await waitFor(
    () => t.queueEmpty() && countFiles(t.maildirRoot, DOMAIN, MAILBOXES) >= load.accepted,
    () => `${t.name} to deliver ${load.accepted} messages`,
    {
      timeoutMs: DRAIN_TIMEOUT_MS,
      intervalMs: 50,
    },
  );
  const cpuMs = treeCpuMs(pid) - cpu0;
  const scan = scanDelays(t.maildirRoot, load.acceptedAt ?? new Float64Array(), load.last250At);
  const loadMs = load.last250At - load.firstSendAt;
  const e2eMs = scan.lastMtime - load.firstSendAt;
  const lat = t.deliveredLatencies?.(seq0);
  return {
    target: t.name,
    sessions,
    round,
    mode: rate ? 'paced' : 'closed',
    rate,
    load,
    loadMs,
    e2eMs,
    acceptRate: load.accepted / (loadMs / 1000),
    e2eRate: load.accepted / (e2eMs / 1000),
    duringLoadRate: scan.filesBy / (loadMs / 1000),
    cpuPer1000: cpuMs / load.accepted,
    delay: { p50: pct(scan.delays, 0.5), p99: pct(scan.delays, 0.99), max: scan.delays.at(-1) ?? Number.NaN },
    files: scan.files,
    unmatched: scan.unmatched,
    duplicates: scan.duplicates,
    ...(lat ? { events: { p50: pct(lat, 0.5), p99: pct(lat, 0.99), n: lat.length } } : {}),
  };
}

function printRun(r: Run): void {
  const paced =
    r.mode === 'paced' ? ` sends late p50 ${f1(r.load.lateP50Ms ?? Number.NaN)} ms p99 ${f1(r.load.lateP99Ms ?? Number.NaN)} ms ` : ' ';
  console.log(
    `[${r.sessions} sessions] round ${r.round} ${r.mode.padEnd(6)} ${r.target.padEnd(7)} accepted ${r.load.accepted} in ${f1(r.loadMs / 1000)} s ` +
      `(${f0(r.acceptRate)} msg/s), all in mailboxes after ${f1(r.e2eMs / 1000)} s: e2e ${f0(r.e2eRate)} msg/s ` +
      `(delivered during the load ${f0(r.duringLoadRate)} msg/s)  ` +
      `250-to-mailbox p50 ${f0(r.delay.p50)} ms p99 ${f0(r.delay.p99)} ms max ${f0(r.delay.max)} ms ` +
      (r.events ? `(events latency_ms p50 ${r.events.p50} p99 ${r.events.p99}, n ${r.events.n}) ` : '') +
      `CPU ${r.cpuPer1000.toFixed(2)} s/1000${paced}` +
      `errors ${r.load.errors}` +
      (r.files !== r.load.accepted || r.unmatched || r.duplicates
        ? `  FILES ${r.files} unmatched ${r.unmatched} duplicates ${r.duplicates}`
        : ''),
  );
}

async function startTidings(port: number, directory: ReturnType<typeof maildirUsers>): Promise<{ proc: ChildProcess; stateDir: string }> {
  const stateDir = join(dir, 'tidings');
  mkdirSync(stateDir, { recursive: true });
  const cfg = join(dir, 'tidings.json');
  writeFileSync(cfg, JSON.stringify({ stateDir, port, directory }));
  const proc = spawn(
    join(process.cwd(), 'node_modules/.bin/node'),
    [
      ...(process.env.BENCH_CPU_PROFILE ? ['--cpu-prof', '--cpu-prof-dir=/tmp/prof'] : []),
      join(process.cwd(), 'bench/smtp-accept/tidings-server.ts'),
      cfg,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  cleanups.push(async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    process.kill(proc.pid as number, 'SIGTERM'); // it writes its CPU profile on the way out
    await exited;
  });
  await new Promise<void>((resolve, reject) => {
    const lines = createInterface({ input: proc.stdout! });
    lines.on('line', (l) => {
      if (l === 'READY') resolve();
    });
    proc.once('exit', (code) => reject(new Error(`the Tidings process exited (${code}) before READY`)));
  });
  return { proc, stateDir };
}

async function main(): Promise<void> {
  const directory = maildirUsers(MAILBOXES, DOMAIN);
  const recipients = Object.keys(directory.addresses);
  const ports: ReservedPort[] = [await reservePort(), await reservePort()];
  cleanups.push(() => {
    for (const p of ports) p.release();
  });
  const [tidingsPort, postfixPort] = ports.map((p) => p.port);

  const { proc: tidings, stateDir } = await startTidings(tidingsPort, directory);
  let postfix: PostfixInstance | undefined;
  cleanups.push(() => postfix?.stop()); // also when a later step throws: no Postfix master left behind
  postfix = startPostfix({
    dir: join(dir, 'postfix'),
    port: postfixPort,
    domain: DOMAIN,
    mailboxes: recipients.map((r) => r.split('@')[0]),
  });
  const pf = postfix;
  await waitFor(() => isListening(postfixPort), 'Postfix to listen', { timeoutMs: 30_000, intervalMs: 50 });

  const tdb = new Database(join(stateDir, 'node.sqlite'), { readonly: true });
  cleanups.push(() => {
    tdb.close();
  });
  const queued = tdb.prepare("SELECT EXISTS (SELECT 1 FROM deliveries WHERE state = 'queued')").pluck();
  const lastSeq = tdb.prepare('SELECT ifnull(max(seq), 0) FROM events').pluck();
  const latencies = tdb.prepare("SELECT latency_ms FROM events WHERE seq > ? AND type = 'delivered' ORDER BY latency_ms").pluck();
  const targets: Target[] = [
    {
      name: 'tidings',
      port: tidingsPort,
      pid: () => tidings.pid as number,
      queueEmpty: () => queued.get() === 0,
      maildirRoot: join(stateDir, 'mail'),
      lastSeq: () => lastSeq.get() as number,
      deliveredLatencies: (after) => latencies.all(after) as number[],
    },
    { name: 'postfix', port: postfixPort, pid: () => pf.masterPid(), queueEmpty: () => pf.queueEmpty(), maildirRoot: pf.maildirRoot },
  ];

  console.log(
    `bench:smtp-e2e — ${BODY} B messages to ${MAILBOXES} Maildir mailboxes; closed loop for ${DURATION_MS / 1000} s, then until the queue is empty ` +
      `and every accepted message is a file in its Maildir new/; then open loop at ${PACED_SHARE * 100} % of Tidings' e2e rate for ${DURATION_MS / 1000} s; ` +
      `${ROUNDS} alternating round(s), after ${WARMUP_MS / 1000} s of uncounted warm-up load per target and session count`,
  );
  console.log(
    `machine: ${cpus().length} CPUs, node ${process.version}; fsync before 250 on both (Tidings: the group committer fsyncs the WAL; Postfix: cleanup fsyncs the queue file); ` +
      `delay = file mtime − final 250 (wall clock), the same for both; load average at start ${loadAverage()}\n`,
  );
  const runs: Run[] = [];
  const order = (round: number): Target[] => (round % 2 === 1 ? targets : [...targets].reverse());
  const mean = (rs: Run[], f: (r: Run) => number): number => rs.reduce((s, r) => s + f(r), 0) / rs.length;
  for (const sessions of SESSIONS) {
    // Warm-up, not counted: Postfix's master forks its smtpd processes, Tidings' JIT compiles its hot paths.
    for (const t of targets) await measure(t, sessions, 0, recipients, undefined, WARMUP_MS);
    for (let round = 1; round <= ROUNDS; round++) {
      for (const t of order(round)) {
        const r = await measure(t, sessions, round, recipients);
        runs.push(r);
        printRun(r);
      }
    }
    const closedTidings = runs.filter((r) => r.mode === 'closed' && r.target === 'tidings' && r.sessions === sessions);
    const sustained = mean(closedTidings, (r) => r.e2eRate);
    const rate = Math.round(sustained * PACED_SHARE);
    console.log(`[${sessions} sessions] paced: ${rate} msg/s = ${PACED_SHARE * 100} % of Tidings' sustained e2e ${f0(sustained)} msg/s`);
    for (let round = 1; round <= ROUNDS; round++) {
      for (const t of order(round)) {
        const r = await measure(t, sessions, round, recipients, rate);
        runs.push(r);
        printRun(r);
      }
    }
  }

  console.log(`\nsummary (mean over rounds); load average at the end ${loadAverage()}`);
  for (const sessions of SESSIONS) {
    const of = (target: string, mode: Run['mode']) => runs.filter((r) => r.target === target && r.mode === mode && r.sessions === sessions);
    for (const name of ['tidings', 'postfix']) {
      const c = of(name, 'closed');
      console.log(
        `  ${String(sessions).padStart(3)} sessions ${name.padEnd(7)} e2e ${f0(mean(c, (r) => r.e2eRate)).padStart(5)} msg/s  accept ${f0(mean(c, (r) => r.acceptRate)).padStart(5)} msg/s  ` +
          `delivered during the load ${f0(mean(c, (r) => r.duringLoadRate)).padStart(5)} msg/s  ` +
          `CPU ${mean(c, (r) => r.cpuPer1000).toFixed(2)} s/1000  250-to-mailbox p50 ${f0(mean(c, (r) => r.delay.p50))} ms p99 ${f0(mean(c, (r) => r.delay.p99))} ms` +
          (name === 'tidings'
            ? ` (events latency_ms p50 ${f0(mean(c, (r) => r.events?.p50 ?? Number.NaN))} p99 ${f0(mean(c, (r) => r.events?.p99 ?? Number.NaN))})`
            : ''),
      );
    }
    const [t, p] = [of('tidings', 'closed'), of('postfix', 'closed')];
    const e2eRatio = mean(t, (r) => r.e2eRate) / mean(p, (r) => r.e2eRate);
    console.log(
      `  ${String(sessions).padStart(3)} sessions ratio   sustained e2e Tidings/Postfix ${e2eRatio.toFixed(2)}x (goal ≥ 2x: ${e2eRatio >= 2 ? 'met' : 'NOT met'})  ` +
        `accept ${(mean(t, (r) => r.acceptRate) / mean(p, (r) => r.acceptRate)).toFixed(2)}x  CPU/msg ${(mean(t, (r) => r.cpuPer1000) / mean(p, (r) => r.cpuPer1000)).toFixed(2)}x`,
    );
    const [tp, pp] = [of('tidings', 'paced'), of('postfix', 'paced')];
    const p99 = mean(tp, (r) => r.delay.p99);
    console.log(
      `  ${String(sessions).padStart(3)} sessions paced at ${tp[0]?.rate} msg/s (80 % of Tidings' e2e): tidings 250-to-mailbox p50 ${f0(mean(tp, (r) => r.delay.p50))} ms ` +
        `p99 ${f0(p99)} ms (goal p99 ≤ 1000 ms: ${p99 <= 1000 ? 'met' : 'NOT met'}), sends late p99 ${f1(mean(tp, (r) => r.load.lateP99Ms ?? Number.NaN))} ms; ` +
        `postfix p50 ${f0(mean(pp, (r) => r.delay.p50))} ms p99 ${f0(mean(pp, (r) => r.delay.p99))} ms, sends late p99 ${f1(mean(pp, (r) => r.load.lateP99Ms ?? Number.NaN))} ms`,
    );
  }
}

runMain(main, cleanups, dir);

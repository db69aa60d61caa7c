// bench:smtp-accept — Tidings vs a private Postfix, same load generator, calibrated against smtp-sink.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createChangeCounter } from '#server/deps.ts';
import { issueNodeToken } from '#server/services/mail/issueNodeToken.ts';
import { openBackendStore } from '#server/store/open.ts';
import { maildirUsers } from '../../test/support/fake-directory.ts';
import { startPostfix } from '../../test/support/postfix.ts';
import { startServerMain, type ServerMain } from '../../test/support/server-main.ts';
import { drive, type DriveResult } from './load.ts';
import { rssSampler, treeCpuMs, treeRssBytes } from './proc-stats.ts';

const ONLY_TIDINGS = !!process.env.BENCH_ONLY_TIDINGS;
/** Tidings with telemetry shipping to a backend as a third target (issue 10); BENCH_SHIPPING=0 leaves it out. */
const SHIPPING = process.env.BENCH_SHIPPING !== '0';
const SESSIONS = (process.env.BENCH_SESSIONS ?? '20,100').split(',').map(Number);
const DURATION_MS = Number(process.env.BENCH_SECONDS ?? 8) * 1000;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const IDLE_CONNECTIONS = Number(process.env.BENCH_IDLE ?? 5000);
const MAILBOXES = 50;
const BODY = 4096;

const dir = mkdtempSync(join(tmpdir(), 'tidings-bench-'));
chmodSync(dir, 0o755); // Postfix daemons (user postfix) must traverse into its queue
const children: ChildProcess[] = [];
const cleanups: (() => void)[] = [];
const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

async function untilListening(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise<boolean>((r) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        r(true);
      });
      s.on('error', () => r(false));
    });
    if (ok) return;
    await pause(50);
  }
  throw new Error(`nothing listens on ${port}`);
}

async function waitUntil(check: () => boolean, timeoutMs = 120_000, what = 'the queue to drain'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`waited ${timeoutMs / 1000} s for ${what}`);
    await pause(50);
  }
}

interface Target {
  name: string;
  port: number;
  pid: () => number;
  drained: () => boolean;
  /** Shipping targets: events written but not yet acknowledged by the backend, and the backend's pid. */
  unshipped?: () => number;
  backendPid?: () => number;
}
interface Row extends DriveResult {
  target: string;
  sessions: number;
  round: number;
  cpuPer1000: number;
  peakRss: number;
  /** Shipping targets: events not yet shipped when the load stopped; the backend's CPU per 1000 messages. */
  unshippedAtEnd?: number;
  backendCpuPer1000?: number;
}

async function measure(t: Target, sessions: number, round: number, recipients: string[]): Promise<Row> {
  const pid = t.pid();
  const cpu0 = treeCpuMs(pid);
  const backend0 = t.backendPid ? treeCpuMs(t.backendPid()) : 0;
  const rss = rssSampler(pid);
  const r = await drive({ port: t.port, sessions, durationMs: DURATION_MS, warmupMs: 1000, bodyBytes: BODY, recipients });
  const unshippedAtEnd = t.unshipped?.();
  // CPU counts until the last accepted message is in its Maildir, so delivery work is included; with shipping, also
  // until the backend has acknowledged every event, so shipping's work is included and none spills into the next run.
  await waitUntil(t.drained, 120_000, t.unshipped ? 'the queue to drain and every event to be shipped' : 'the queue to drain');
  const cpuMs = treeCpuMs(pid) - cpu0;
  const peakRss = rss.stop();
  const total = (r.messages * (DURATION_MS + 1000)) / DURATION_MS; // messages incl. warm-up, for CPU per message
  const per1000 = (ms: number) => ms / 1000 / (total / 1000);
  return {
    ...r,
    target: t.name,
    sessions,
    round,
    cpuPer1000: per1000(cpuMs),
    peakRss,
    ...(t.backendPid ? { unshippedAtEnd, backendCpuPer1000: per1000(treeCpuMs(t.backendPid()) - backend0) } : {}),
  };
}

const loadAverage = (): string =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');
const mb = (b: number): string => `${(b / 1048576).toFixed(1)} MiB`;
const f1 = (n: number): string => n.toFixed(1);

async function main(): Promise<void> {
  const directory = maildirUsers(MAILBOXES);
  const recipients = Object.keys(directory.addresses);
  const [sinkPort, tidingsPort, postfixPort] = [await freePort(), await freePort(), await freePort()];

  const sink = spawn('smtp-sink', ['-u', 'nobody', '-c', `127.0.0.1:${sinkPort}`, '1024'], { stdio: 'ignore' });
  children.push(sink);

  const startTidings = (
    name: string,
    port: number,
    telemetry?: { backendUrl: string; token: string },
  ): { proc: ChildProcess; stateDir: string } => {
    const stateDir = join(dir, name);
    mkdirSync(stateDir, { recursive: true });
    const cfg = join(dir, `${name}.json`);
    writeFileSync(cfg, JSON.stringify({ stateDir, port, directory, telemetry }));
    const proc = spawn(
      join(process.cwd(), 'node_modules/.bin/node'),
      [
        ...(process.env.BENCH_CPU_PROFILE ? ['--cpu-prof', '--cpu-prof-dir=/tmp/prof'] : []),
        join(process.cwd(), 'bench/smtp-accept/tidings-server.ts'),
        cfg,
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    children.push(proc);
    return { proc, stateDir };
  };
  const { proc: tidings, stateDir: tdir } = startTidings('tidings', tidingsPort);

  // Shipping: a backend as `npm start` runs it (backend role), a node token for the shipping node, and a second
  // Tidings process that ships its event log there at the default interval, as an MX node does.
  let backend: ServerMain | undefined;
  let shipping: { proc: ChildProcess; stateDir: string; port: number } | undefined;
  if (SHIPPING) {
    const backendDir = join(dir, 'backend');
    const store = openBackendStore(backendDir);
    const token = issueNodeToken({
      ctx: { db: store, clock: () => new Date(), changes: createChangeCounter() },
      actor: { userId: null, name: 'bench' },
      name: 'mx-bench',
    });
    store.close();
    backend = await startServerMain({ TIDINGS_STATE_DIR: backendDir, TIDINGS_ROLE: 'backend' });
    cleanups.push(() => backend?.child.kill('SIGTERM'));
    const port = await freePort();
    shipping = { ...startTidings('tidings-ship', port, { backendUrl: backend.url, token }), port };
  }

  const postfix = startPostfix({
    dir: join(dir, 'postfix'),
    port: postfixPort,
    domain: 'example.test',
    mailboxes: recipients.map((r) => r.split('@')[0]),
  });
  cleanups.push(() => postfix.stop()); // also when a later step throws: no Postfix master left behind
  await Promise.all([
    untilListening(sinkPort),
    untilListening(tidingsPort),
    untilListening(postfixPort),
    ...(shipping ? [untilListening(shipping.port)] : []),
  ]);

  const tdb = new Database(join(tdir, 'node.sqlite'), { readonly: true });
  const queued = tdb.prepare("SELECT count(*) FROM deliveries WHERE state = 'queued'").pluck();
  const targets: Target[] = [
    { name: 'tidings', port: tidingsPort, pid: () => tidings.pid!, drained: () => queued.get() === 0 },
    { name: 'postfix', port: postfixPort, pid: () => postfix.masterPid(), drained: () => postfix.queueEmpty() },
  ];
  let sdb: InstanceType<typeof Database> | undefined;
  if (shipping && backend) {
    const ship = shipping;
    const backendPid = backend.child.pid as number;
    sdb = new Database(join(ship.stateDir, 'node.sqlite'), { readonly: true });
    const shipQueued = sdb.prepare("SELECT count(*) FROM deliveries WHERE state = 'queued'").pluck();
    const unshipped = sdb
      .prepare('SELECT (SELECT ifnull(max(seq), 0) FROM events) - (SELECT acked_seq FROM telemetry_cursor WHERE id = 1)')
      .pluck();
    targets.splice(1, 0, {
      name: 'tidings+ship',
      port: ship.port,
      pid: () => ship.proc.pid!,
      drained: () => shipQueued.get() === 0 && unshipped.get() === 0,
      unshipped: () => unshipped.get() as number,
      backendPid: () => backendPid,
    });
  }

  console.log(
    `bench:smtp-accept — ${BODY} B messages to ${MAILBOXES} Maildir mailboxes, ${DURATION_MS / 1000} s per run after 1 s warm-up, ${ROUNDS} alternating rounds`,
  );
  console.log(
    `machine: ${(await import('node:os')).cpus().length} CPUs, node ${process.version}; fsync before 250 on both (Tidings: the group committer fsyncs the WAL; Postfix: cleanup fsyncs the queue file); load average ${loadAverage()}\n`,
  );
  const rows: Row[] = [];
  for (const sessions of SESSIONS) {
    const cal = await drive({ port: sinkPort, sessions, durationMs: DURATION_MS, warmupMs: 1000, bodyBytes: BODY, recipients });
    console.log(
      `[${sessions} sessions] smtp-sink calibration (null server, same generator): ${f1(cal.msgsPerSec)} msg/s, p50 ${f1(cal.p50Ms)} ms, p99 ${f1(cal.p99Ms)} ms`,
    );
    for (let round = 1; round <= ROUNDS; round++) {
      for (const t of (round % 2 === 1 ? targets : [...targets].reverse()).filter((x) => !ONLY_TIDINGS || x.name !== 'postfix')) {
        const row = await measure(t, sessions, round, recipients);
        rows.push(row);
        console.log(
          `[${sessions} sessions] round ${round} ${t.name.padEnd(12)} ${f1(row.msgsPerSec).padStart(7)} msg/s  p50 ${f1(row.p50Ms).padStart(6)} ms  p99 ${f1(row.p99Ms).padStart(6)} ms  ` +
            `CPU ${row.cpuPer1000.toFixed(2)} s/1000 msgs  peak PSS ${mb(row.peakRss)}  errors ${row.errors}` +
            (row.backendCpuPer1000 === undefined
              ? ''
              : `  backend CPU ${row.backendCpuPer1000.toFixed(2)} s/1000 msgs  unshipped events at end of load ${row.unshippedAtEnd}`),
        );
      }
    }
  }

  console.log(`\nsummary (mean over rounds); load average at the end ${loadAverage()}`);
  for (const sessions of SESSIONS) {
    const mean = (name: string, k: keyof Row): number => {
      const r = rows.filter((x) => x.target === name && x.sessions === sessions);
      return r.reduce((s, x) => s + (x[k] as number), 0) / r.length;
    };
    const peak = (name: string): number =>
      Math.max(...rows.filter((x) => x.target === name && x.sessions === sessions).map((x) => x.peakRss));
    const names = targets.map((t) => t.name).filter((n) => rows.some((x) => x.target === n && x.sessions === sessions));
    for (const name of names) {
      console.log(
        `  ${String(sessions).padStart(3)} sessions ${name.padEnd(12)} ${f1(mean(name, 'msgsPerSec')).padStart(7)} msg/s  p50 ${f1(mean(name, 'p50Ms'))} ms  p99 ${f1(mean(name, 'p99Ms'))} ms  ` +
          `CPU ${mean(name, 'cpuPer1000').toFixed(2)} s/1000  peak PSS ${mb(peak(name))}`,
      );
    }
    if (names.includes('tidings+ship')) {
      const each = (name: string) =>
        rows
          .filter((x) => x.target === name && x.sessions === sessions)
          .map((x) => f1(x.msgsPerSec))
          .join(' ');
      const ratio = mean('tidings+ship', 'msgsPerSec') / mean('tidings', 'msgsPerSec');
      // Per round: the two ran back to back (ABBA order), so each round's ratio saw about the same machine load.
      const perRound = [...new Set(rows.map((x) => x.round))]
        .map((round) => {
          const rate = (name: string) => rows.find((x) => x.target === name && x.sessions === sessions && x.round === round)?.msgsPerSec;
          const [w, wo] = [rate('tidings+ship'), rate('tidings')];
          return w !== undefined && wo !== undefined ? w / wo : undefined;
        })
        .filter((r): r is number => r !== undefined)
        .sort((a, b) => a - b);
      const mid = perRound.length >> 1;
      const medianRound = perRound.length % 2 === 1 ? perRound[mid] : (perRound[mid - 1] + perRound[mid]) / 2;
      console.log(
        `  ${String(sessions).padStart(3)} sessions shipping telemetry: ${f1(mean('tidings+ship', 'msgsPerSec'))} msg/s with (${each('tidings+ship')}), ` +
          `${f1(mean('tidings', 'msgsPerSec'))} without (${each('tidings')}): ${(ratio * 100).toFixed(1)} % (goal ≥ 95 %); ` +
          `p99 ${f1(mean('tidings+ship', 'p99Ms'))} vs ${f1(mean('tidings', 'p99Ms'))} ms; node CPU ${mean('tidings+ship', 'cpuPer1000').toFixed(2)} vs ${mean('tidings', 'cpuPer1000').toFixed(2)} s/1000, ` +
          `backend ${mean('tidings+ship', 'backendCpuPer1000').toFixed(2)} s/1000`,
      );
      console.log(
        `  ${String(sessions).padStart(3)} sessions shipping telemetry, per round (with / without, sorted): ${perRound.map((r) => `${(r * 100).toFixed(0)} %`).join(' ')}; median ${(medianRound * 100).toFixed(1)} %`,
      );
    }
    if (!names.includes('postfix')) continue;
    console.log(
      `  ${String(sessions).padStart(3)} sessions ratio    throughput ${(mean('tidings', 'msgsPerSec') / mean('postfix', 'msgsPerSec')).toFixed(2)}x  ` +
        `p99 ${(mean('tidings', 'p99Ms') / mean('postfix', 'p99Ms')).toFixed(2)}x  CPU/msg ${(mean('tidings', 'cpuPer1000') / mean('postfix', 'cpuPer1000')).toFixed(2)}x  ` +
        `peak PSS ${(peak('tidings') / peak('postfix')).toFixed(2)}x`,
    );
  }

  // Idle connections: greeted sessions that just sit there, on a fresh process (no heap grown by load).
  if (IDLE_CONNECTIONS > 0) await idleMemory(startTidings);
  tdb.close();
  sdb?.close();
  await backend?.stop();
}

async function idleMemory(startTidings: (name: string, port: number) => { proc: ChildProcess }): Promise<void> {
  const idlePort = await freePort();
  const { proc: fresh } = startTidings('tidings-idle', idlePort);
  await untilListening(idlePort);
  await pause(1000);
  const before = treeRssBytes(fresh.pid!);
  const idle: net.Socket[] = [];
  let greeted = 0;
  for (let i = 0; i < IDLE_CONNECTIONS; i++) {
    const s = net.connect(idlePort, '127.0.0.1');
    s.once('data', () => {
      greeted++;
    });
    s.on('error', () => {});
    idle.push(s);
    if (i % 200 === 199) await pause(20);
  }
  await waitUntil(() => greeted === IDLE_CONNECTIONS, 60_000, `${IDLE_CONNECTIONS} greetings (${greeted} so far)`);
  await pause(1000);
  const withIdle = treeRssBytes(fresh.pid!);
  console.log(
    `\nTidings memory with ${IDLE_CONNECTIONS} idle greeted connections (fresh process): ${mb(withIdle)} (idle process before: ${mb(before)}, +${((withIdle - before) / IDLE_CONNECTIONS / 1024).toFixed(1)} KiB per connection)`,
  );
  for (const s of idle) s.destroy();
}

main()
  .catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => {
    for (const clean of cleanups) clean();
    for (const c of children) if (c.pid && c.exitCode === null) process.kill(c.pid, 'SIGTERM');
    setTimeout(() => rmSync(dir, { recursive: true, force: true }), 500);
  });

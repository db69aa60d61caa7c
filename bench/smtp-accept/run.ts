// bench:smtp-accept — Tidings vs a private Postfix, same load generator, calibrated against smtp-sink.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { maildirUsers } from '../../test/support/fake-directory.ts';
import { startPostfix } from '../../test/support/postfix.ts';
import { drive, type DriveResult } from './load.ts';
import { rssSampler, treeCpuMs, treeRssBytes } from './proc-stats.ts';

const ONLY_TIDINGS = !!process.env.BENCH_ONLY_TIDINGS;
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

async function waitUntil(check: () => boolean, timeoutMs = 120_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error('queue did not drain');
    await pause(50);
  }
}

interface Target {
  name: string;
  port: number;
  pid: () => number;
  drained: () => boolean;
}
interface Row extends DriveResult {
  target: string;
  sessions: number;
  round: number;
  cpuPer1000: number;
  peakRss: number;
}

async function measure(t: Target, sessions: number, round: number, recipients: string[]): Promise<Row> {
  const pid = t.pid();
  const cpu0 = treeCpuMs(pid);
  const rss = rssSampler(pid);
  const r = await drive({ port: t.port, sessions, durationMs: DURATION_MS, warmupMs: 1000, bodyBytes: BODY, recipients });
  // CPU counts until the last accepted message is in its Maildir, so delivery work is included.
  await waitUntil(t.drained);
  const cpuMs = treeCpuMs(pid) - cpu0;
  const peakRss = rss.stop();
  const total = (r.messages * (DURATION_MS + 1000)) / DURATION_MS; // messages incl. warm-up, for CPU per message
  return { ...r, target: t.name, sessions, round, cpuPer1000: cpuMs / 1000 / (total / 1000), peakRss };
}

const mb = (b: number): string => `${(b / 1048576).toFixed(1)} MiB`;
const f1 = (n: number): string => n.toFixed(1);

async function main(): Promise<void> {
  const directory = maildirUsers(MAILBOXES);
  const recipients = Object.keys(directory.addresses);
  const [sinkPort, tidingsPort, postfixPort] = [await freePort(), await freePort(), await freePort()];

  const sink = spawn('smtp-sink', ['-u', 'nobody', '-c', `127.0.0.1:${sinkPort}`, '1024'], { stdio: 'ignore' });
  children.push(sink);

  const startTidings = (name: string, port: number): { proc: ChildProcess; stateDir: string } => {
    const stateDir = join(dir, name);
    mkdirSync(stateDir, { recursive: true });
    const cfg = join(dir, `${name}.json`);
    writeFileSync(cfg, JSON.stringify({ stateDir, port, directory }));
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

  const postfix = startPostfix({
    dir: join(dir, 'postfix'),
    port: postfixPort,
    domain: 'example.test',
    mailboxes: recipients.map((r) => r.split('@')[0]),
  });
  cleanups.push(() => postfix.stop()); // also when a later step throws: no Postfix master left behind
  await Promise.all([untilListening(sinkPort), untilListening(tidingsPort), untilListening(postfixPort)]);

  const tdb = new Database(join(tdir, 'node.sqlite'), { readonly: true });
  const queued = tdb.prepare("SELECT count(*) FROM deliveries WHERE state = 'queued'").pluck();
  const targets: Target[] = [
    { name: 'tidings', port: tidingsPort, pid: () => tidings.pid!, drained: () => queued.get() === 0 },
    { name: 'postfix', port: postfixPort, pid: () => postfix.masterPid(), drained: () => postfix.queueEmpty() },
  ];

  console.log(
    `bench:smtp-accept — ${BODY} B messages to ${MAILBOXES} Maildir mailboxes, ${DURATION_MS / 1000} s per run after 1 s warm-up, ${ROUNDS} alternating rounds`,
  );
  console.log(
    `machine: ${(await import('node:os')).cpus().length} CPUs, node ${process.version}; fsync before 250 on both (Tidings synchronous=FULL, Postfix cleanup fsync)\n`,
  );
  const rows: Row[] = [];
  for (const sessions of SESSIONS) {
    const cal = await drive({ port: sinkPort, sessions, durationMs: DURATION_MS, warmupMs: 1000, bodyBytes: BODY, recipients });
    console.log(
      `[${sessions} sessions] smtp-sink calibration (null server, same generator): ${f1(cal.msgsPerSec)} msg/s, p50 ${f1(cal.p50Ms)} ms, p99 ${f1(cal.p99Ms)} ms`,
    );
    for (let round = 1; round <= ROUNDS; round++) {
      for (const t of (round % 2 === 1 ? targets : [...targets].reverse()).filter((x) => !ONLY_TIDINGS || x.name === 'tidings')) {
        const row = await measure(t, sessions, round, recipients);
        rows.push(row);
        console.log(
          `[${sessions} sessions] round ${round} ${t.name.padEnd(8)} ${f1(row.msgsPerSec).padStart(7)} msg/s  p50 ${f1(row.p50Ms).padStart(6)} ms  p99 ${f1(row.p99Ms).padStart(6)} ms  ` +
            `CPU ${row.cpuPer1000.toFixed(2)} s/1000 msgs  peak PSS ${mb(row.peakRss)}  errors ${row.errors}`,
        );
      }
    }
  }

  console.log('\nsummary (mean over rounds)');
  for (const sessions of SESSIONS) {
    const mean = (name: string, k: keyof Row): number => {
      const r = rows.filter((x) => x.target === name && x.sessions === sessions);
      return r.reduce((s, x) => s + (x[k] as number), 0) / r.length;
    };
    const peak = (name: string): number =>
      Math.max(...rows.filter((x) => x.target === name && x.sessions === sessions).map((x) => x.peakRss));
    for (const name of ['tidings', 'postfix']) {
      console.log(
        `  ${String(sessions).padStart(3)} sessions ${name.padEnd(8)} ${f1(mean(name, 'msgsPerSec')).padStart(7)} msg/s  p50 ${f1(mean(name, 'p50Ms'))} ms  p99 ${f1(mean(name, 'p99Ms'))} ms  ` +
          `CPU ${mean(name, 'cpuPer1000').toFixed(2)} s/1000  peak PSS ${mb(peak(name))}`,
      );
    }
    console.log(
      `  ${String(sessions).padStart(3)} sessions ratio    throughput ${(mean('tidings', 'msgsPerSec') / mean('postfix', 'msgsPerSec')).toFixed(2)}x  ` +
        `p99 ${(mean('tidings', 'p99Ms') / mean('postfix', 'p99Ms')).toFixed(2)}x  CPU/msg ${(mean('tidings', 'cpuPer1000') / mean('postfix', 'cpuPer1000')).toFixed(2)}x  ` +
        `peak PSS ${(peak('tidings') / peak('postfix')).toFixed(2)}x`,
    );
  }

  // Idle connections: greeted sessions that just sit there, on a fresh process (no heap grown by load).
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
  await waitUntil(() => greeted === IDLE_CONNECTIONS, 60_000);
  await pause(1000);
  const withIdle = treeRssBytes(fresh.pid!);
  console.log(
    `\nTidings memory with ${IDLE_CONNECTIONS} idle greeted connections (fresh process): ${mb(withIdle)} (idle process before: ${mb(before)}, +${((withIdle - before) / IDLE_CONNECTIONS / 1024).toFixed(1)} KiB per connection)`,
  );
  for (const s of idle) s.destroy();
  tdb.close();
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

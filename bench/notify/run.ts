// Benchmark: subscriber mail (issue 14, "Performance"). 10,000 confirmed subscribers of the Email section and one staff
// comment on FS#2733 through `npm start`'s entry (server/main.ts as a process): the time from the comment's POST until
// a loopback relay (smtp-server) has accepted every message, against nodemailer sending the same messages straight to
// the same kind of relay in a loop, in the same run; and the latency of a staff request while the fan-out runs.
// See README.md.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { NotifyEvent } from '#data/contracts/notify.ts';
import { buildNotifyMessage } from '#server/domain/notify-message.ts';
import { subscriberLinks } from '#server/domain/subscription-links.ts';
import { addStaff } from '#server/services/users/addStaff.ts';
import { openBackendStore } from '#server/store/open.ts';
import { addSectionFollowers, sectionId } from '../../test/support/notify-subscribers.ts';
import { startServerMain } from '../../test/support/server-main.ts';
import { startRelay, type Relay } from './relay.ts';

const SUBSCRIBERS = Number(process.env.BENCH_SUBSCRIBERS ?? 10_000);
/** The sender's defaults (server/jobs/notify-sender.ts): the loop gets the same pool and the same messages in flight. */
const CONNECTIONS = 5;
const IN_FLIGHT = 20;
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
const PASSWORD = 'correct horse battery';

const ms = (ns: bigint) => Number(ns) / 1e6;
const pct = (xs: number[], p: number) => xs.toSorted((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? 0;

async function waitCount(relay: Relay, n: number): Promise<void> {
  await relay.waitFor(n, 600_000);
}

/** Tidings: server/main.ts over a state folder with SUBSCRIBERS confirmed followers of the Email section, and its relay. */
async function startTidings() {
  const dir = mkdtempSync(join(tmpdir(), 'tidings-bench-notify-'));
  const db = openBackendStore(dir);
  await addStaff({
    ctx: { db, clock: () => new Date(), changes: { bump() {}, version: () => 0 } },
    actor: { userId: null, name: 'bench' },
    input: { username: 'ops', role: 'staff', password: PASSWORD, displayName: 'Ops' },
  });
  addSectionFollowers(db, sectionId(db, 'email'), SUBSCRIBERS);
  const secret = (db.prepare('SELECT secret FROM subscription_link_secret WHERE id = 1').get() as { secret: string }).secret;
  db.close();
  const sink = await startRelay();
  const server = await startServerMain({
    TIDINGS_ROLE: 'backend',
    TIDINGS_STATE_DIR: dir,
    TIDINGS_NOTIFY_SMTP_URL: `smtp://127.0.0.1:${sink.port}`,
  });
  const login = await fetch(`${server.url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'ops', password: PASSWORD }),
  });
  const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
  const { csrfToken } = (await login.json()) as { csrfToken: string };
  const headers = { 'content-type': 'application/json', cookie, 'x-csrf-token': csrfToken };
  // Warm the staff route once, as a staff member's browser would have.
  await (await fetch(`${server.url}/api/v1/tasks/2733`, { headers })).text();
  let comments = 0;
  return {
    dir,
    links: (id: number) => subscriberLinks(new URL(server.url).origin, secret, id),
    /** One comment: its POST to the last 250 at the relay; a staff request every 50 ms meanwhile. */
    async comment(): Promise<{ ms: number; latencies: number[] }> {
      comments++;
      const t0 = process.hrtime.bigint();
      const res = await fetch(`${server.url}/api/v1/tasks/2733/comments`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ body: `Benchmark comment ${comments}: the relay test.` }),
      });
      if (res.status !== 201) throw new Error(`comment: ${res.status} ${await res.text()}`);
      let finished = false;
      const done = waitCount(sink, SUBSCRIBERS * comments).then(() => {
        finished = true;
        return process.hrtime.bigint();
      });
      const latencies: number[] = [];
      while (!finished) {
        const s = process.hrtime.bigint();
        const r = await fetch(`${server.url}/api/v1/tasks/2733`, { headers });
        await r.text();
        if (r.status !== 200) throw new Error(`staff request: ${r.status}`);
        latencies.push(ms(process.hrtime.bigint() - s));
        await new Promise((r2) => setTimeout(r2, 50));
      }
      return { ms: ms((await done) - t0), latencies };
    },
    /** The latest comment's outbox event, as the sender read it. */
    event(): NotifyEvent {
      const row = new Database(join(dir, 'backend.sqlite'), { readonly: true })
        .prepare("SELECT id, kind, task_id, section_id, at, payload FROM notify_events WHERE kind = 'comment' ORDER BY id DESC LIMIT 1")
        .get() as { id: number; kind: NotifyEvent['kind']; task_id: number; section_id: number; at: string; payload: string };
      return { id: row.id, kind: row.kind, taskId: row.task_id, sectionId: row.section_id, at: row.at, payload: JSON.parse(row.payload) };
    },
    async stop() {
      await server.stop();
      await sink.close();
    },
    kill: () => server.child.kill('SIGKILL'),
  };
}

/**
 * The peer: nodemailer's pool in a process of its own (loop.ts), like the backend's, the same messages built
 * beforehand, sent in a loop with the same connections and concurrency to a relay in this process: from the loop's
 * start until the relay has accepted the last one.
 */
async function runLoop(event: NotifyEvent, dir: string, links: (id: number) => ReturnType<typeof subscriberLinks>): Promise<number> {
  const db = new Database(join(dir, 'backend.sqlite'), { readonly: true });
  const subs = db.prepare('SELECT id, email FROM subscribers ORDER BY id').all() as { id: number; email: string }[];
  db.close();
  const messages = subs.map((s) =>
    buildNotifyMessage(
      event,
      { subscriberId: s.id, email: s.email },
      { from: 'Tidings <noreply@localhost>', host: 'localhost', links: links(s.id) },
    ),
  );
  const file = join(dir, 'messages.json');
  writeFileSync(file, JSON.stringify(messages));
  const sink = await startRelay();
  const child = spawn(process.execPath, [join(import.meta.dirname, 'loop.ts'), file, String(sink.port)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
  });
  const exited = new Promise<number | null>((r) => child.on('exit', r));
  const started = await new Promise<bigint>((resolve, reject) => {
    const look = () => {
      const m = /start (\d+)/.exec(out);
      if (m) resolve(BigInt(m[1]!));
      else if (child.exitCode !== null) reject(new Error(`loop.ts exited: ${out}`));
      else setTimeout(look, 5);
    };
    look();
  });
  await waitCount(sink, messages.length);
  const t1 = process.hrtime.bigint();
  if ((await exited) !== 0) throw new Error(`loop.ts failed: ${out}`);
  await sink.close();
  return ms(t1 - started);
}

console.log(
  `bench:notify — ${SUBSCRIBERS} subscribers, ${REPEATS} runs, ${availableParallelism()} CPUs, load ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
const rate = (t: number) => Math.round((SUBSCRIBERS / t) * 1000);
const median = (xs: number[]) => pct(xs, 50);
const tidings = await startTidings();
const runs: { tidings: number; loop: number }[] = [];
const latencies: number[] = [];
try {
  // Interleaved (a comment, then the loop, then the next comment), so both see the same moments of a shared machine.
  for (let i = 0; i < REPEATS; i++) {
    const t = await tidings.comment();
    latencies.push(...t.latencies);
    const loop = await runLoop(tidings.event(), tidings.dir, tidings.links);
    runs.push({ tidings: t.ms, loop });
    console.log(
      `run ${i + 1}: tidings ${(t.ms / 1000).toFixed(2)} s (${rate(t.ms)}/s), loop ${(loop / 1000).toFixed(2)} s (${rate(loop)}/s), ratio ${(loop / t.ms).toFixed(2)}; staff p99 ${pct(t.latencies, 99).toFixed(1)} ms`,
    );
  }
  await tidings.stop();
} catch (e) {
  tidings.kill();
  throw e;
}
rmSync(tidings.dir, { recursive: true, force: true });
const tm = median(runs.map((r) => r.tidings));
const lm = median(runs.map((r) => r.loop));
console.log(`tidings (comment POST → last 250 at the relay), median: ${(tm / 1000).toFixed(2)} s, ${rate(tm)} messages/s`);
console.log(
  `nodemailer loop in its own process (same messages, ${CONNECTIONS} connections, ${IN_FLIGHT} in flight), median: ${(lm / 1000).toFixed(2)} s, ${rate(lm)} messages/s`,
);
console.log(
  `ratio tidings / loop (throughput), median of the runs' ratios: ${median(runs.map((r) => r.loop / r.tidings)).toFixed(2)} (goal ≥ 0.8)`,
);
console.log(
  `staff request (GET /api/v1/tasks/2733) during the fan-out and sending, ${latencies.length} requests: p50 ${pct(latencies, 50).toFixed(1)} ms, p99 ${pct(latencies, 99).toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms (goal p99 < 50 ms)`,
);

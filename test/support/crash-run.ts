// SIGKILLs an MX child at random moments under SMTP load, then tells which duplicate copies each kill caused.
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { runLoad, type LoadResult } from './load.ts';
import type { MxChild } from './mx-child.ts';
import { waitFor } from './wait.ts';

export interface KillLoadOptions {
  mx: MxChild;
  stateDir: string;
  /** The SMTP port the child listens on in every incarnation. */
  port: number;
  kills: number;
  /** Each incarnation first gets this many messages answered 250 (default 30), so every kill lands in real work. */
  ackedBeforeKill?: number;
  sessions: number;
  recipientFor: (messageIndex: number) => string;
  /** How long the last incarnation may take to deliver what is still queued. */
  drainTimeoutMs?: number;
}

export interface KillLoadRun {
  result: LoadResult;
  /** Date.now() just before each SIGKILL. */
  killTimes: number[];
  /** Deliveries in the worker's hand (leased, not final) when each SIGKILL landed: kills during delivery. */
  inHandAtKill: number[];
}

/** Load pacing, not a wait for an event: the kill lands at a random moment of the work in flight. */
const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function countDeliveries(stateDir: string, where: string): number {
  const db = new Database(join(stateDir, 'node.sqlite'), { readonly: true });
  try {
    return db.prepare(`SELECT count(*) FROM deliveries WHERE ${where}`).pluck().get() as number;
  } finally {
    db.close();
  }
}
const queuedDeliveries = (stateDir: string): number => countDeliveries(stateDir, "state = 'queued'");

/**
 * Load runs until the last kill is over (bounded by kills, not by message count); each incarnation is
 * killed once it has accepted some messages, at a random moment after that, so a slow start-up does
 * not leave kills without deliveries in flight. The last incarnation too must accept that many before
 * the load ends; then it drains the queue and stops gracefully (stop() asserts exit code 0).
 */
export async function loadWithKills(o: KillLoadOptions): Promise<KillLoadRun> {
  await o.mx.start();
  const killTimes: number[] = [];
  const inHandAtKill: number[] = [];
  const ackedBeforeKill = o.ackedBeforeKill ?? 30;
  let killsDone = false;
  let ackedInLife = 0;
  let progress: (() => void) | null = null;
  const onAcked = (): void => {
    ackedInLife++;
    if (ackedInLife >= ackedBeforeKill) progress?.();
  };
  /** Resolves once the running incarnation has answered ackedBeforeKill messages 250. */
  const incarnationWorked = (i: number): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const stuck = setTimeout(
        () => reject(new Error(`incarnation ${i + 1} answered only ${ackedInLife} messages 250 within 60 s`)),
        60_000,
      );
      progress = () => {
        clearTimeout(stuck);
        progress = null;
        resolve();
      };
      if (ackedInLife >= ackedBeforeKill) progress();
    });
  const killer = (async () => {
    try {
      for (let i = 0; i < o.kills; i++) {
        await incarnationWorked(i);
        // Random moments: some kills land in a Maildir write, some between a remote 250 and its commit.
        await pause(Math.random() * 300);
        killTimes.push(Date.now());
        await o.mx.kill();
        // Read before the restart releases them: the leases the killed process held.
        inHandAtKill.push(countDeliveries(o.stateDir, "state = 'queued' AND lease_owner IS NOT NULL"));
        ackedInLife = 0;
        await o.mx.start();
      }
      await incarnationWorked(o.kills);
    } finally {
      killsDone = true; // also when a restart failed: the load must end for the error to surface
    }
  })();
  const result = await runLoad({
    port: o.port,
    sessions: o.sessions,
    perSession: 1_000_000,
    recipientFor: o.recipientFor,
    shouldStop: () => killsDone,
    onAcked,
  });
  await killer;
  await waitFor(
    () => queuedDeliveries(o.stateDir) === 0,
    () => `queue drained after the last kill (${queuedDeliveries(o.stateDir)} still queued)`,
    o.drainTimeoutMs ?? 60_000,
  );
  await o.mx.stop();
  return { result, killTimes, inHandAtKill };
}

export interface DuplicateReport {
  /** Extra copies (beyond the first) attributed to each kill, in kill order. */
  perKill: number[];
  total: number;
  /** Largest distance between a copy whose record was lost and the kill it is charged to (ms). */
  farthestMs: number;
  /** Of those, stored after the kill: the remote finished after the node died, its 250 never read. */
  storedAfterKill: number;
}

/**
 * copies: message → the times its copies were stored. Each copy after the first is charged to the kill
 * nearest the copy before it: the remote stored that one, the node died before recording it (or even
 * before reading the 250), so the retry after the restart stored the message again.
 */
export function attributeDuplicates(copies: Map<string, number[]>, killTimes: number[]): DuplicateReport {
  const perKill = killTimes.map(() => 0);
  let total = 0;
  let farthestMs = 0;
  let storedAfterKill = 0;
  for (const stored of copies.values()) {
    const times = [...stored].sort((a, b) => a - b);
    for (const lost of times.slice(0, -1)) {
      let nearest = 0;
      for (let k = 1; k < killTimes.length; k++) if (Math.abs(killTimes[k] - lost) < Math.abs(killTimes[nearest] - lost)) nearest = k;
      perKill[nearest]++;
      total++;
      farthestMs = Math.max(farthestMs, Math.abs(killTimes[nearest] - lost));
      if (lost >= killTimes[nearest]) storedAfterKill++;
    }
  }
  return { perKill, total, farthestMs, storedAfterKill };
}

export function describeDuplicates(route: string, run: KillLoadRun, report: DuplicateReport): string {
  const kills = run.killTimes.length;
  return (
    `crash test (${route}): ${kills} SIGKILLs, ${run.result.acked.size} acked, ${run.result.uncertain.size} unanswered; ` +
    `duplicates ${report.total} (${(report.total / kills).toFixed(2)} per kill, per kill [${report.perKill.join(', ')}], max ${Math.max(0, ...report.perKill)}; ` +
    `${report.storedAfterKill} of the unrecorded copies stored after the kill; farthest ${Math.round(report.farthestMs)} ms from its kill)`
  );
}

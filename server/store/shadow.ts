// SQL for the shadow report (data/migrations/backend/013_shadow_report.sql): written by the telemetry ingest in the
// batch's transaction, read by the report, pruned by server/jobs/shadow-report-prune.ts.
import type { DB } from '#data/db.ts';
import {
  SHADOW_SAMPLES_KEPT,
  type ShadowReason,
  type ShadowSample,
  type ShadowVerdict,
  type ShadowVerdictKind,
} from '#data/contracts/shadow.ts';
import { stmt } from './prepared.ts';

/** The UTC day (YYYY-MM-DD) of a time in milliseconds since the epoch. */
export const dayOf = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/** One shadow-verdict event as the ingest hands it over. */
export interface ShadowEvent {
  at: number;
  messageId: string;
  verdict: ShadowVerdict;
}

// ── written by the ingest ──────────────────────────────────────────────────

const COUNT_SQL = `INSERT INTO shadow_counts (day, domain, address, verdict, reason, count) VALUES (?, ?, ?, ?, ?, ?)
                   ON CONFLICT(domain, day, address, verdict, reason) DO UPDATE SET count = count + excluded.count`;
const SAMPLE_SQL = `INSERT INTO shadow_samples (domain, address, verdict, reason, at, queue_id, score, h_from, h_subject, h_date, h_message_id)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;
const KEY = 'domain = @domain AND address = @address AND verdict = @verdict AND reason = @reason';
const TRIM_SQL = `DELETE FROM shadow_samples WHERE id IN
                  (SELECT id FROM shadow_samples WHERE ${KEY} ORDER BY at DESC, id DESC LIMIT -1 OFFSET @keep)`;

/**
 * Counts the events per day, domain, address, verdict and reason (one upsert per bucket), adds each key's latest
 * SHADOW_SAMPLES_KEPT of them to its samples and trims the key's samples to that many, latest by time. The caller
 * passes only the events after the node's cursor, inside the batch's transaction.
 */
export function recordShadowVerdicts(db: DB, events: readonly ShadowEvent[]): void {
  if (events.length === 0) return;
  const counts = new Map<string, { day: string; v: ShadowVerdict; count: number }>();
  const samples = new Map<string, ShadowEvent[]>();
  for (const e of events) {
    const v = e.verdict;
    const key = JSON.stringify([v.domain, v.address, v.verdict, v.reason]);
    const day = dayOf(e.at);
    const bucket = `${day} ${key}`;
    const c = counts.get(bucket);
    if (c) c.count++;
    else counts.set(bucket, { day, v, count: 1 });
    let s = samples.get(key);
    if (!s) {
      s = [];
      samples.set(key, s);
    }
    s.push(e);
  }
  const count = stmt(db, COUNT_SQL);
  for (const { day, v, count: n } of counts.values()) count.run([day, v.domain, v.address, v.verdict, v.reason, n]);
  const sample = stmt(db, SAMPLE_SQL);
  const trim = stmt(db, TRIM_SQL);
  for (const list of samples.values()) {
    // Stable: of events with the same time, the later one in the batch is the later sample.
    const latest = list
      .map((e, i) => ({ e, i }))
      .sort((a, b) => a.e.at - b.e.at || a.i - b.i)
      .slice(-SHADOW_SAMPLES_KEPT);
    for (const { e } of latest) {
      const { domain, address, verdict, reason, score, sample: h } = e.verdict;
      sample.run([domain, address, verdict, reason, e.at, e.messageId, score, h.from, h.subject, h.date, h.messageId]);
    }
    const { domain, address, verdict, reason } = list[0].verdict;
    trim.run({ domain, address, verdict, reason, keep: SHADOW_SAMPLES_KEPT });
  }
}

// ── read by the report ─────────────────────────────────────────────────────

export interface ShadowCountRow {
  domain: string;
  address: string;
  verdict: ShadowVerdictKind;
  reason: ShadowReason;
  count: number;
}

/** The counts of the days from `from` to `to` (both included), summed per domain, address, verdict and reason. */
export function shadowCounts(db: DB, range: { from: string; to: string; domain?: string }): ShadowCountRow[] {
  return db
    .prepare(`SELECT domain, address, verdict, reason, SUM(count) AS count FROM shadow_counts
              WHERE day BETWEEN @from AND @to ${range.domain === undefined ? '' : 'AND domain = @domain'}
              GROUP BY domain, address, verdict, reason ORDER BY domain, address`)
    .all({ from: range.from, to: range.to, ...(range.domain === undefined ? {} : { domain: range.domain }) }) as ShadowCountRow[];
}

export interface ShadowSampleRow {
  domain: string;
  address: string;
  verdict: ShadowVerdictKind;
  reason: ShadowReason;
  at: number;
  queueId: string;
  score: number | null;
  sample: ShadowSample;
}

/**
 * The kept samples recorded in [fromMs, toMs), at most `perPair` per domain, verdict and reason (the latest), by domain
 * and newest first.
 */
export function shadowSamples(db: DB, range: { fromMs: number; toMs: number; domain?: string; perPair: number }): ShadowSampleRow[] {
  const rows = db
    .prepare(`SELECT domain, address, verdict, reason, at, queue_id AS queueId, score, h_from, h_subject, h_date, h_message_id FROM (
                SELECT *, ROW_NUMBER() OVER (PARTITION BY domain, verdict, reason ORDER BY at DESC, id DESC) AS n FROM shadow_samples
                WHERE at >= @fromMs AND at < @toMs ${range.domain === undefined ? '' : 'AND domain = @domain'})
              WHERE n <= @perPair ORDER BY domain, at DESC, id DESC`)
    .all({
      fromMs: range.fromMs,
      toMs: range.toMs,
      perPair: range.perPair,
      ...(range.domain === undefined ? {} : { domain: range.domain }),
    }) as (Omit<ShadowSampleRow, 'sample'> & Record<'h_from' | 'h_subject' | 'h_date' | 'h_message_id', string | null>)[];
  return rows.map(({ h_from, h_subject, h_date, h_message_id, ...r }) => ({
    ...r,
    sample: { from: h_from, subject: h_subject, date: h_date, messageId: h_message_id },
  }));
}

// ── pruned by the retention job ────────────────────────────────────────────

/**
 * Deletes at most `limit` count rows of days before `beforeDay` and at most `limit` samples recorded before
 * `beforeMs`; returns how many rows it deleted.
 */
export function pruneShadowReport(db: DB, beforeDay: string, beforeMs: number, limit: number): number {
  const counts = db
    .prepare(`DELETE FROM shadow_counts WHERE (domain, day, address, verdict, reason) IN
              (SELECT domain, day, address, verdict, reason FROM shadow_counts WHERE day < ? ORDER BY day LIMIT ?)`)
    .run(beforeDay, limit).changes;
  const samples = db
    .prepare('DELETE FROM shadow_samples WHERE id IN (SELECT id FROM shadow_samples WHERE at < ? ORDER BY at LIMIT ?)')
    .run(beforeMs, limit).changes;
  return counts + samples;
}

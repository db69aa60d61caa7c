// Wall-clock times in the display time zone ⇄ UTC instants, with Intl only (daylight saving included).

/** "YYYY-MM-DDTHH:mm" as an HTML datetime-local field sends it (seconds optional). */
export type WallTime = string;

export interface WallToUtc {
  /** The chosen UTC instant (ISO text ending in Z). */
  instant: string;
  /**
   * ok: one instant has this wall time. skipped: the clocks jumped over it (spring forward); the
   * instant is the same length of time after the jump, as a wall clock left alone would show it.
   * repeated: it happened twice (fall back); the earlier instant is chosen, the later is `alternative`.
   */
  kind: 'ok' | 'skipped' | 'repeated';
  alternative?: string;
}

const WALL = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2}))?$/;

export function isValidTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-GB', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

function fieldsAt(epochMs: number, tz: string): number[] {
  const parts = new Intl.DateTimeFormat('en-GB', {
    timeZone: tz,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(new Date(epochMs));
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  return [get('year'), get('month'), get('day'), get('hour'), get('minute'), get('second')];
}

/** The zone's offset from UTC at an instant, in milliseconds (Berlin in summer: +7,200,000). */
export function offsetAt(epochMs: number, tz: string): number {
  const [y, mo, d, h, mi, s] = fieldsAt(epochMs, tz);
  const asUtc = Date.UTC(y, mo - 1, d, h, mi, s);
  return asUtc - Math.floor(epochMs / 1000) * 1000;
}

/** Parses a wall time into its fields read as if it were UTC; throws on malformed or impossible dates. */
function wallAsUtc(wall: WallTime): number {
  const m = WALL.exec(wall.trim());
  if (!m) throw new RangeError(`"${wall}" is not a date and time like 2021-10-12T10:40`);
  const [y, mo, d, h, mi, s] = m.slice(1).map((v) => Number(v ?? 0));
  const t = Date.UTC(y, mo - 1, d, h, mi, s);
  const back = new Date(t);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) {
    throw new RangeError(`"${wall}" is not a real date and time`);
  }
  return t;
}

const DAY = 86_400_000;

/** Converts a wall time in `tz` to a UTC instant, saying whether the hour was skipped or repeated. */
export function wallTimeToUtc(wall: WallTime, tz: string): WallToUtc {
  const local = wallAsUtc(wall);
  // The offsets in force a day either side cover every real zone's transitions (at most one per day).
  const before = offsetAt(local - DAY, tz);
  const after = offsetAt(local + DAY, tz);
  const candidates = [...new Set([before, after])]
    .map((off) => local - off)
    .filter((instant) => offsetAt(instant, tz) === local - instant)
    .sort((a, b) => a - b);
  const iso = (n: number) => new Date(n).toISOString();
  if (candidates.length === 1) return { instant: iso(candidates[0]), kind: 'ok' };
  if (candidates.length >= 2) return { instant: iso(candidates[0]), kind: 'repeated', alternative: iso(candidates[candidates.length - 1]) };
  // Skipped: read the wall time with the offset from before the jump, which lands after it.
  return { instant: iso(local - before), kind: 'skipped' };
}

/** A UTC instant as the wall time in `tz`, "YYYY-MM-DDTHH:mm" (what a datetime-local field shows). */
export function utcToWallTime(instant: string | Date, tz: string): WallTime {
  const t = typeof instant === 'string' ? Date.parse(instant) : instant.getTime();
  if (Number.isNaN(t)) throw new RangeError(`"${String(instant)}" is not an instant`);
  const [y, mo, d, h, mi] = fieldsAt(t, tz);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(y, 4)}-${p(mo)}-${p(d)}T${p(h)}:${p(mi)}`;
}

/** "+02:00" style label of the offset in force at an instant, for showing next to a field. */
export function offsetLabel(instant: string | Date, tz: string): string {
  const t = typeof instant === 'string' ? Date.parse(instant) : instant.getTime();
  const off = offsetAt(t, tz) / 60_000;
  const sign = off < 0 ? '-' : '+';
  const a = Math.abs(off);
  return `${sign}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}`;
}

/** "2021-10-13 00:00 UTC": an ISO UTC instant to the minute, as task comments and subscriber mail print it. */
export const utcMinute = (iso: string): string => `${iso.slice(0, 16).replace('T', ' ')} UTC`;

// Words and numbers of the telemetry charts and their tables: interval labels in the display time zone, latencies
// as histogram bounds ("≤ 1.8 s"), ages and counts. Free of imports: the chart script bundles it for its tooltips.

const count = new Intl.NumberFormat('en-GB');
export const formatCount = (n: number): string => count.format(n);

function parts(iso: string, tz: string, opts: Intl.DateTimeFormatOptions): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of new Intl.DateTimeFormat('en-GB', { timeZone: tz, ...opts }).formatToParts(new Date(iso))) out[p.type] = p.value;
  return out;
}

/**
 * An interval's start as its row and axis label, in the display time zone: "15 Jan 11:00" for hours and 6-hour
 * blocks, "Thu 15 Jan" for days that start at local midnight (a UTC day elsewhere keeps its local time).
 */
export function intervalLabel(iso: string, tz: string, daily: boolean): string {
  const p = parts(iso, tz, { weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  const day = `${p.day} ${p.month}`;
  const time = `${p.hour}:${p.minute}`;
  if (daily) return time === '00:00' ? `${p.weekday} ${day}` : `${p.weekday} ${day} ${time}`;
  return `${day} ${time}`;
}

/** A duration in ms as a person reads it: "850 ms", "1.8 s", "4.2 min", "3.1 h", "2.5 d". */
export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${ms} ms`;
  const units: [number, string][] = [
    [86_400_000, 'd'],
    [3_600_000, 'h'],
    [60_000, 'min'],
    [1_000, 's'],
  ];
  for (const [size, unit] of units) {
    if (ms >= size) {
      const v = ms / size;
      return `${v >= 10 ? Math.round(v) : Number(v.toFixed(1))} ${unit}`;
    }
  }
  return `${ms} ms`;
}

/** A quantile as the table shows it: an upper bound, "more than" past the last bucket, or why there is none. */
export function formatQuantile(ms: number | null, overflow: boolean): string {
  if (ms === null) return 'no delivery';
  return overflow ? `> ${formatDuration(ms)}` : `≤ ${formatDuration(ms)}`;
}

// Dates as the seed shows them ("Wednesday, 10 November 2021, 16:09 GMT"), in the configured display time zone.

function parts(iso: string, tz: string, opts: Intl.DateTimeFormatOptions): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of new Intl.DateTimeFormat('en-GB', { timeZone: tz, ...opts }).formatToParts(new Date(iso))) out[p.type] = p.value;
  return out;
}

/** The seed writes UTC as "GMT"; other zones get their short name (CET, CEST, ...). */
function zoneLabel(iso: string, tz: string): string {
  if (tz === 'UTC' || tz === 'Etc/UTC' || tz === 'GMT') return 'GMT';
  return parts(iso, tz, { timeZoneName: 'short' }).timeZoneName ?? tz;
}

export function formatLong(iso: string, tz: string): string {
  const p = parts(iso, tz, {
    weekday: 'long',
    day: 'numeric',
    month: 'long',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  });
  return `${p.weekday}, ${p.day} ${p.month} ${p.year}, ${p.hour}:${p.minute} ${zoneLabel(iso, tz)}`;
}

/** "2021-10-08", as the seed's "Opened by Admin - 2021-10-08". */
export function formatIsoDay(iso: string, tz: string): string {
  const p = parts(iso, tz, { day: '2-digit', month: '2-digit', year: 'numeric' });
  return `${p.year}-${p.month}-${p.day}`;
}

/** "12 October 2021": phase dates are whole days. */
export function formatDay(iso: string, tz: string): string {
  const p = parts(iso, tz, { day: 'numeric', month: 'long', year: 'numeric' });
  return `${p.day} ${p.month} ${p.year}`;
}

/** "2021-11-10 16:09 GMT": compact, for table cells. */
export function formatShort(iso: string, tz: string): string {
  const p = parts(iso, tz, { day: '2-digit', month: '2-digit', year: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute} ${zoneLabel(iso, tz)}`;
}

// The date-time of mail headers (Date, Received, DSN fields), RFC 5322 §3.3, always in UTC.

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n: number): string => String(n).padStart(2, '0');

/**
 * E.g. "Mon, 30 Nov 2026 02:16:54 +0000", from a Date or epoch milliseconds (what the Clock gives).
 * UTC, because a node's local zone says nothing to the reader; the day of month is not padded.
 */
export function rfc5322Date(at: Date | number): string {
  const d = new Date(at);
  return (
    `${DAYS[d.getUTCDay()]}, ${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ` +
    `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000`
  );
}

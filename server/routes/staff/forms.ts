// Reading staff forms: strings, numbers and display-zone times to typed values, collecting field errors instead of throwing.
import type { Context } from 'hono';
import type { FieldError } from '../../http/problem.ts';
import { refuseControlCharacters } from '../../http/validate.ts';
import { wallTimeToUtc, utcToWallTime } from '../../domain/timezone.ts';

export type Form = Record<string, string>;

/**
 * Only text fields: a file upload or repeated key is not something these forms send. A control character in any
 * field is a 400 here, before any page reads the form (the staff error page names the field).
 */
export async function readForm(c: Context): Promise<Form> {
  const body = await c.req.parseBody();
  const out: Form = {};
  for (const [k, v] of Object.entries(body)) if (typeof v === 'string') out[k] = v;
  refuseControlCharacters(out);
  return out;
}

export class FormReader {
  readonly form: Form;
  readonly errors: FieldError[] = [];
  /** Set when a time fell into a daylight-saving gap or overlap, so the page can say how it was read. */
  dst: 'skipped' | 'repeated' | null = null;
  readonly timeZone: string;
  constructor(form: Form, timeZone: string) {
    this.form = form;
    this.timeZone = timeZone;
  }

  text(name: string): string {
    return (this.form[name] ?? '').replace(/\r\n/g, '\n');
  }

  /** A positive id from a select; empty → null. */
  id(name: string, label: string): number | null {
    const raw = (this.form[name] ?? '').trim();
    if (raw === '') return null;
    if (!/^\d{1,10}$/.test(raw)) {
      this.errors.push({ field: label, message: 'choose an entry from the list' });
      return null;
    }
    return Number(raw);
  }

  int(name: string, label: string, min: number, max: number): number | undefined {
    const raw = (this.form[name] ?? '').trim();
    if (raw === '') return undefined;
    if (!/^-?\d{1,7}$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      this.errors.push({ field: label, message: `a whole number from ${min} to ${max}` });
      return undefined;
    }
    return Number(raw);
  }

  private convert(wall: string): string {
    const r = wallTimeToUtc(wall, this.timeZone);
    if (r.kind !== 'ok') this.dst = r.kind;
    return r.instant;
  }

  /** The query suffix that carries the DST note across the redirect after a save. */
  dstQuery(): string {
    return this.dst ? `&tz=${this.dst}` : '';
  }

  /** "YYYY-MM-DDTHH:mm" in the display zone → UTC instant; empty → undefined. */
  instant(name: string, label: string): string | undefined {
    const raw = (this.form[name] ?? '').trim();
    if (raw === '') return undefined;
    try {
      return this.convert(raw);
    } catch {
      this.errors.push({ field: label, message: `a date and time like 2021-10-12T10:40 (${this.timeZone})` });
      return undefined;
    }
  }

  /**
   * A date with an optional time: a start without a time is the first minute of its day, an end without
   * one the last millisecond (the seed's "until 12.10.2021" includes the 12th), both in the display zone.
   */
  dayBound(dateName: string, timeName: string, label: string, bound: 'start' | 'end'): string | null | undefined {
    const date = (this.form[dateName] ?? '').trim();
    const time = (this.form[timeName] ?? '').trim();
    if (date === '' && time === '') return null;
    if (!/^\d{4}-\d{2}-\d{2}$/.test(date) || (time !== '' && !/^\d{2}:\d{2}$/.test(time))) {
      this.errors.push({ field: label, message: 'a date (YYYY-MM-DD) and optionally a time (HH:mm)' });
      return undefined;
    }
    try {
      if (time !== '') return this.convert(`${date}T${time}`);
      if (bound === 'start') return wallTimeToUtc(`${date}T00:00`, this.timeZone).instant;
      const next = new Date(Date.parse(`${date}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
      return new Date(Date.parse(wallTimeToUtc(`${next}T00:00`, this.timeZone).instant) - 1).toISOString();
    } catch {
      this.errors.push({ field: label, message: 'not a real date' });
      return undefined;
    }
  }
}

/** A stored instant as the value of a datetime-local field in the display zone. */
export function wallValue(instant: string | null | undefined, tz: string): string {
  return instant ? utcToWallTime(instant, tz) : '';
}

/** Date and time fields for a phase bound; an end on the last millisecond of a day shows as that day alone. */
export function dayBoundValue(instant: string | null, tz: string, bound: 'start' | 'end'): { date: string; time: string } {
  if (!instant) return { date: '', time: '' };
  const t = Date.parse(instant);
  if (bound === 'end') {
    const nextWall = utcToWallTime(new Date(t + 1), tz);
    if (nextWall.endsWith('T00:00') && (t + 1) % 60_000 === 0) return { date: utcToWallTime(new Date(t), tz).slice(0, 10), time: '' };
  }
  const wall = utcToWallTime(instant, tz);
  if (bound === 'start' && wall.endsWith('T00:00')) return { date: wall.slice(0, 10), time: '' };
  return { date: wall.slice(0, 10), time: wall.slice(11, 16) };
}

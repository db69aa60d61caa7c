// Queue ids: time-ordered, unique without coordination, safe in file names and SMTP replies.
import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'; // Crockford base32: no I, L, O, U

/** 10 characters of millisecond time, then 10 random characters (50 bits). */
export function newQueueId(nowMs: number, random: (n: number) => Buffer = randomBytes): string {
  let t = '';
  let n = Math.floor(nowMs);
  for (let i = 0; i < 10; i++) {
    t = ALPHABET[n % 32] + t;
    n = Math.floor(n / 32);
  }
  const r = random(10);
  let s = '';
  for (let i = 0; i < 10; i++) s += ALPHABET[r[i] & 31];
  return t + s;
}

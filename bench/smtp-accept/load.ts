// The load generator: TCP_NODELAY sessions sending 4 KiB messages, timing each final 250.
import net from 'node:net';
import { pct } from '../lib/mailboxes.ts';
import { SmtpReplies } from '../lib/smtp-replies.ts';

export interface DriveOptions {
  port: number;
  sessions: number;
  durationMs: number;
  warmupMs: number;
  bodyBytes: number;
  recipients: string[];
  /**
   * Each message starts with an `X-Bench-Id: <n>` header (n counts messages in send order over all sessions), and
   * the result gives each final 250's wall-clock time (bench:smtp-e2e matches these to the Maildir files).
   */
  tagMessages?: boolean;
  /**
   * Open loop instead of closed: a pacer shared by the sessions releases message n at start + n / ratePerSec; a
   * session that is still busy when a release is due sends it as soon as it is free (late, never dropped). The load
   * ends with the last release before start + warmupMs + durationMs.
   */
  ratePerSec?: number;
}

export interface DriveResult {
  messages: number;
  msgsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  /** Every final 250, also those in the warm-up and after the end of the measured window. */
  accepted: number;
  /** Wall-clock times (ms since the epoch): the first MAIL FROM written and the last final 250. */
  firstSendAt: number;
  last250At: number;
  /** tagMessages: acceptedAt[n] is the wall-clock time of message n's final 250 (ms; NaN if it got none). */
  acceptedAt?: Float64Array;
  /** ratePerSec: how late sends went out against their release time, p50 and p99 (ms). */
  lateP50Ms?: number;
  lateP99Ms?: number;
}

/** Wall-clock time in ms with sub-ms resolution (the clock the kernel stamps file times with). */
export const wallNow = (): number => performance.timeOrigin + performance.now();

function body(n: number, bytes: number): string {
  const head = `From: <bench@remote.test>\r\nTo: <bench@example.test>\r\nSubject: bench ${n}\r\nMessage-ID: <${n}.${Date.now()}@remote.test>\r\n\r\n`;
  const line = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.\r\n';
  let text = head;
  while (text.length + line.length <= bytes) text += line;
  return `${text}${'x'.repeat(Math.max(0, bytes - text.length - 2))}\r\n`;
}

export async function drive(opts: DriveOptions): Promise<DriveResult> {
  const message = `${body(0, opts.bodyBytes)}.\r\n`;
  const start = performance.now();
  const measureFrom = start + opts.warmupMs;
  const stopAt = measureFrom + opts.durationMs;
  const latencies: number[] = [];
  let errors = 0;
  let accepted = 0;
  let firstSendAt = Number.POSITIVE_INFINITY;
  let last250At = Number.NEGATIVE_INFINITY;
  const rate = opts.ratePerSec;
  // Message numbers, shared by the sessions; with a rate, number n is also the n-th release of the pacer.
  let next = 0;
  const total = rate ? Math.ceil(((stopAt - start) / 1000) * rate) : Number.POSITIVE_INFINITY;
  let acceptedAt = opts.tagMessages ? new Float64Array(Number.isFinite(total) ? total : 1 << 16).fill(Number.NaN) : undefined;
  const late: number[] = [];

  /** Open loop: the next message number, once the pacer releases it; null when the load is over. */
  async function paced(rate: number): Promise<number | null> {
    if (next >= total) return null;
    const n = next++;
    const due = start + (n * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    late.push(Math.max(0, performance.now() - due));
    return n;
  }

  function record250(n: number, at: number): void {
    if (!acceptedAt) return;
    if (n >= acceptedAt.length) {
      const grown = new Float64Array(Math.max(acceptedAt.length * 2, n + 1)).fill(Number.NaN);
      grown.set(acceptedAt);
      acceptedAt = grown;
    }
    acceptedAt[n] = at;
  }

  async function session(s: number): Promise<void> {
    const socket = net.connect({ port: opts.port, host: '127.0.0.1' });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    socket.setNoDelay(true);
    const c = new SmtpReplies(socket);
    await c.read();
    socket.write('EHLO bench.test\r\n');
    await c.read();
    for (let k = 0; ; k++) {
      const n = rate ? await paced(rate) : performance.now() < stopAt ? next++ : null;
      if (n === null) break;
      const rcpt = opts.recipients[(s + k) % opts.recipients.length];
      if (firstSendAt === Number.POSITIVE_INFINITY) firstSendAt = wallNow(); // the clock only moves on: the first is the earliest
      socket.write(`MAIL FROM:<bench@remote.test>\r\nRCPT TO:<${rcpt}>\r\nDATA\r\n`);
      const r1 = await c.read();
      const r2 = await c.read();
      const r3 = await c.read();
      if (!r1?.startsWith('250') || !r2?.startsWith('250') || !r3?.startsWith('354')) {
        errors++;
        break;
      }
      const t0 = performance.now();
      socket.write(opts.tagMessages ? `X-Bench-Id: ${n}\r\n${message}` : message);
      const r = await c.read();
      const t1 = performance.now();
      if (!r?.startsWith('250')) {
        errors++;
        break;
      }
      const at = performance.timeOrigin + t1;
      accepted++;
      if (at > last250At) last250At = at;
      record250(n, at);
      if (t1 >= measureFrom && t1 < stopAt) latencies.push(t1 - t0);
    }
    socket.write('QUIT\r\n');
    socket.end();
  }

  await Promise.all(Array.from({ length: opts.sessions }, (_, s) => session(s)));
  // pct (bench/lib/mailboxes.ts) reads sorted values.
  latencies.sort((a, b) => a - b);
  late.sort((a, b) => a - b);
  return {
    messages: latencies.length,
    msgsPerSec: latencies.length / (opts.durationMs / 1000),
    p50Ms: pct(latencies, 0.5),
    p99Ms: pct(latencies, 0.99),
    errors,
    accepted,
    firstSendAt,
    last250At,
    ...(acceptedAt ? { acceptedAt: acceptedAt.subarray(0, next) } : {}),
    ...(rate ? { lateP50Ms: pct(late, 0.5), lateP99Ms: pct(late, 0.99) } : {}),
  };
}

// Concurrent SMTP sessions for process tests: sends uniquely tagged messages and tracks every answer.
import { RawSmtp, codeOf } from './smtp-client.ts';

export interface LoadOptions {
  port: number;
  sessions: number;
  perSession: number;
  recipientFor: (messageIndex: number) => string;
  bodyBytes?: number;
  /** Stop early (used to end a test cleanly); messages not yet sent are simply not sent. */
  shouldStop?: () => boolean;
  /** Told of every 250 after DATA as it arrives (e.g. to time a kill after some progress). */
  onAcked?: (id: string) => void;
  /** How long a new connection may wait for its greeting before it is given up and closed (default 10 s). */
  greetingTimeoutMs?: number;
  /** How long any other reply may take (default 10 s); a message whose end-of-data reply never comes is uncertain. */
  replyTimeoutMs?: number;
  /** Messages per connection before QUIT and a new connection (default: a connection lasts until the server ends it). */
  perConnection?: number;
}

export interface LoadResult {
  /** Messages a session began to send (each is then retried until answered or cut off). */
  started: number;
  /** Message ids answered 250 after DATA. */
  acked: Map<string, string>;
  /** Sent in full, then the connection died before any reply: queued at most once (or not at all). */
  uncertain: Set<string>;
  /** Every reply to MAIL/RCPT/DATA/end-of-data, by code. */
  codes: Map<number, number>;
  /** Replies no session should ever see (anything but 250/354/421 at those steps). */
  unexpected: string[];
  /** Connections that died without an answer at any step (no reply at all). */
  silentDrops: number;
  /** The distinct texts of 421 replies seen. */
  texts421: Set<string>;
  /** Every connection attempt that did not end in a greeting and EHLO answered: its error code (ECONNREFUSED…) or reply. */
  connectFailures: string[];
}

export const testIdOf = (message: Buffer): string | null => /\r\nX-Test-Id: (\S+)\r\n/.exec(message.toString('latin1'))?.[1] ?? null;

function messageFor(id: string, rcpt: string, bodyBytes: number): string {
  const head = `From: <load@remote.test>\r\nTo: <${rcpt}>\r\nSubject: load ${id}\r\nMessage-ID: <${id}@remote.test>\r\nX-Test-Id: ${id}\r\n\r\n`;
  const line = 'The quick brown fox jumps over the lazy dog, again and again and again.\r\n';
  return head + line.repeat(Math.max(1, Math.ceil(bodyBytes / line.length)));
}

/** A client's reconnect pacing while the server restarts (load generation, not a wait for an event). */
const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Runs the sessions to the end and returns what they saw. Every connection it opens is closed before it
 * returns or throws: a socket left open keeps the test process alive after its tests pass, and npm test
 * hangs. The first error in any session (a callback that throws, say) stops all the others and is thrown.
 */
export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const greetingTimeoutMs = opts.greetingTimeoutMs ?? 10_000;
  const replyTimeoutMs = opts.replyTimeoutMs ?? 10_000;
  const open = new Set<RawSmtp>();
  let failed = false;
  const stopping = (): boolean => failed || (opts.shouldStop?.() ?? false);
  const close = (c: RawSmtp | null): null => {
    if (c) {
      c.close();
      open.delete(c);
    }
    return null;
  };
  const result: LoadResult = {
    started: 0,
    acked: new Map(),
    uncertain: new Set(),
    codes: new Map(),
    unexpected: [],
    silentDrops: 0,
    texts421: new Set(),
    connectFailures: [],
  };
  const note = (step: string, reply: string | null): number => {
    const code = codeOf(reply);
    if (reply === null) result.silentDrops++;
    else result.codes.set(code, (result.codes.get(code) ?? 0) + 1);
    if (code === 421) result.texts421.add(reply!.slice(4));
    if (reply !== null && ![250, 354, 421].includes(code)) result.unexpected.push(`${step}: ${reply}`);
    return code;
  };

  /** null once the load is told to stop while nothing listens (e.g. a restart that failed). */
  async function connect(): Promise<RawSmtp | null> {
    for (;;) {
      let c: RawSmtp | null = null;
      try {
        c = await RawSmtp.connect(opts.port);
        open.add(c);
        if (stopping()) return close(c);
        const greeting = await c.read(greetingTimeoutMs);
        const ehlo = codeOf(greeting) === 220 ? await c.cmd('EHLO load.test') : null;
        if (codeOf(ehlo) === 250) return c;
        result.connectFailures.push(`greeting ${greeting}, EHLO ${ehlo}`);
      } catch (err) {
        result.connectFailures.push((err as NodeJS.ErrnoException).code ?? (err as Error).message);
        // Not listening (restarting), or no greeting: a connection whose handshake the kernel finished
        // while the node's accept queue was full, then forgot silently when the node was killed. Such a
        // socket stays "established" and would keep this process alive: it is closed below.
      }
      close(c);
      if (stopping()) return null;
      await pause(20);
    }
  }

  async function session(s: number): Promise<void> {
    let c: RawSmtp | null = null;
    let onConnection = 0;
    for (let k = 0; k < opts.perSession && !stopping(); k++) {
      if (c && opts.perConnection && onConnection >= opts.perConnection) {
        c.write('QUIT\r\n');
        await c.read(replyTimeoutMs).catch(() => null); // 221, or the server is gone already: nothing is at stake
        c = close(c);
      }
      const index = s * opts.perSession + k;
      const id = `m${index}`;
      const rcpt = opts.recipientFor(index);
      let began = false;
      for (;;) {
        if (!c) {
          c = await connect();
          onConnection = 0;
        }
        if (!c) return;
        const steps: [string, string][] = [
          ['MAIL', 'MAIL FROM:<load@remote.test>\r\n'],
          ['RCPT', `RCPT TO:<${rcpt}>\r\n`],
          ['DATA', 'DATA\r\n'],
        ];
        // Counted at its first MAIL: a session stopped while it was between connections never began this message.
        if (!began) result.started++;
        began = true;
        let ok = true;
        for (const [step, line] of steps) {
          c.write(line);
          const code = note(step, await c.read(replyTimeoutMs).catch(() => null));
          if (code !== 250 && code !== 354) {
            ok = false;
            break;
          }
        }
        if (!ok) {
          // nothing was stored: a new connection, the same message again
          c = close(c);
          continue;
        }
        c.write(`${messageFor(id, rcpt, opts.bodyBytes ?? 1024)}.\r\n`);
        const reply = await c.read(replyTimeoutMs).catch(() => null);
        const code = note('end-of-data', reply);
        if (code === 250) {
          onConnection++;
          result.acked.set(id, rcpt);
          opts.onAcked?.(id);
        } else if (reply === null) result.uncertain.add(id);
        else if (code === 421 || code === 451) {
          c = close(c);
          continue;
        }
        if (reply === null) c = close(c);
        break;
      }
    }
    close(c);
  }

  const sessions = Array.from({ length: opts.sessions }, (_, s) =>
    session(s).catch((err: unknown) => {
      failed = true;
      throw err;
    }),
  );
  try {
    // allSettled, not all: on an error the other sessions still run until they notice the stop.
    const outcomes = await Promise.allSettled(sessions);
    const rejected = outcomes.find((o) => o.status === 'rejected');
    if (rejected) throw rejected.reason;
  } finally {
    for (const c of open) close(c);
  }
  return result;
}

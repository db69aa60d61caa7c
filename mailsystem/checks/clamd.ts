// A small clamd client (issue 12): one `zINSTREAM` per message over TCP, a bounded pool, a timeout per scan. No
// maintained npm client exists, and the protocol is a few lines (clamd(8), "INSTREAM"):
//   zINSTREAM\0  then chunks, each <4-byte big-endian length><bytes>, then a zero length  →  one NUL-terminated reply:
//   "stream: OK" | "stream: <signature> FOUND" | "<message> ERROR" (e.g. "INSTREAM size limit exceeded. ERROR").
//
// Every outcome is a VirusVerdict; scan() never throws and never leaves a socket open. Only 'clean' is clean: the caller
// fails closed (451 4.7.1) on every 'error', including 'too-large'.
//
// Design choices:
// - Connections are kept as clamd sessions (zIDSESSION), one scan at a time on each: clamd closes the connection after
//   an INSTREAM sent outside a session, and a connect and a close per scan were a good part of the client's CPU (issue
//   12's bench/smtp-scan/client-cost.ts). Inside a session clamd numbers its replies ("<n>: stream: OK"), which are
//   checked against the request. One scan at a time per connection, not multiplexed: clamd ends a session on the first
//   error (a size limit, a read timeout), which then fails only that scan. A kept session that clamd closed while idle
//   (its IdleTimeout, 30 s by default) shows up as the connection closing or resetting before any reply: that scan is
//   sent once more on a new connection (a scan is idempotent). `sessions: false` connects once per scan.
// - Sessions live for sessionMs (1 s) only, idle or not: clamd polls at most MaxQueue connections (100 by default) and
//   leaves others unaccepted until one closes, so sessions kept for ever (several nodes on one clamd, or a large
//   maxConnections) starved every other client: 16 kept idle sessions plus 100 busy ones left 16 scans without a reply
//   (measured against the real clamd). A connection per second per slot instead of per scan keeps most of the gain.
// - The pool bounds concurrency and connections: at most maxConnections scans talk to clamd at once (clamd has
//   MaxThreads worker threads and queues the rest, MaxQueue deep), the others wait here in arrival order; at most
//   maxConnections sessions are open.
// - A scan's timeout covers the whole call, waiting for a pool slot included, so the SMTP DATA hook that awaits it gets
//   an answer within timeoutMs whatever clamd does.
// - StreamMaxLength: a message longer than streamMaxLength is 'too-large' at once, without connecting. Sending only
//   its first streamMaxLength bytes would let clamd answer "OK" for a message whose virus sits after the cut. Set
//   streamMaxLength to clamd's StreamMaxLength (clamd's default is 25 MiB, ours too). If clamd's limit is lower anyway,
//   clamd answers "INSTREAM size limit exceeded. ERROR" and closes: that is 'too-large' as well, or 'unavailable' when
//   clamd's reset reaches us while we are still sending (the reply is then lost with the connection); both fail closed.
// - All frames go out in one corked write (a writev of views of the message, nothing copied). Against a clamd whose
//   limit was 256 KiB, writing as the socket drained lost clamd's size-limit reply to its reset in 8 of 20 scans of
//   320 KiB; one write lost none of 100 at 320 KiB and 1 MiB (65 of 100 at 4 MiB, where the kernel buffers overflow).
import net from 'node:net';
import { performance } from 'node:perf_hooks';

/** What a virus check found. Only 'clean' lets a message through. */
export type VirusVerdict =
  | { status: 'clean'; ms: number }
  | { status: 'infected'; name: string; ms: number }
  | { status: 'error'; reason: VirusErrorReason; detail: string; ms: number };

/**
 * Why a scan gave no answer:
 * - unavailable: cannot connect (refused, unresolvable), the connection broke before a reply, the client is closed, or
 *   clamd itself answered that it could not scan (a known "... ERROR" other than the size limit, "COMMAND READ TIMED
 *   OUT", "UNKNOWN COMMAND");
 * - timeout: no complete reply within timeoutMs (a stalled clamd, or every pool slot stayed busy);
 * - garbage: a reply that is none of clamd's (not NUL-terminated, a line break in it, an unknown form, too long);
 * - too-large: longer than streamMaxLength, or clamd's "INSTREAM size limit exceeded. ERROR".
 */
export type VirusErrorReason = 'unavailable' | 'timeout' | 'garbage' | 'too-large';

export interface ClamdClientOptions {
  host: string;
  port: number;
  /** Per scan, from the call of scan() (pool wait included) to the verdict. */
  timeoutMs: number;
  /** Scans talking to clamd at once; the rest wait in arrival order. */
  maxConnections: number;
  /** clamd's StreamMaxLength; longer messages are 'too-large' without being sent. Default 25 MiB (clamd's default). */
  streamMaxLength?: number;
  /** Bytes per INSTREAM chunk. Default 64 KiB. */
  chunkBytes?: number;
  /**
   * Keep connections as clamd sessions (IDSESSION) between scans, one scan at a time on each (default true); false
   * connects once per scan.
   */
  sessions?: boolean;
  /**
   * A session's lifetime (default 1 s): then it is closed once idle, and the next scan opens a new one. clamd polls
   * at most MaxQueue connections (100 by default) and leaves further ones unaccepted until one closes: sessions kept
   * for ever by a few clients (several nodes, a large maxConnections) would starve every other connection to it.
   */
  sessionMs?: number;
}

interface Session {
  socket: net.Socket;
  /** Requests sent in this session: clamd numbers its replies "<n>: ". */
  requests: number;
  connected: boolean;
  onIdle: () => void;
  /** Past its lifetime: closed when idle, not parked again. */
  expired: boolean;
}

const END_OF_STREAM = Buffer.alloc(4);
const DEFAULT_SESSION_MS = 1000;

export interface ClamdClient {
  scan(message: Buffer): Promise<VirusVerdict>;
  /** Ends every scan in flight or waiting with 'unavailable' (client closed) and refuses new ones the same way. */
  close(): void;
}

export const CLAMD_DEFAULT_STREAM_MAX_LENGTH = 25 * 1024 * 1024;
const DEFAULT_CHUNK_BYTES = 64 * 1024;
/** clamd's longest replies are a signature name or an error message; anything longer without a NUL is not clamd. */
const MAX_REPLY_BYTES = 4096;

/** What one reply means; exported for the unit tests of the parser. */
export function parseClamdReply(reply: string): { status: 'clean' } | { status: 'infected'; name: string } | VirusErrorAnswer {
  if (reply === 'stream: OK') return { status: 'clean' };
  const found = /^stream: (\S(?:.*\S)?) FOUND$/.exec(reply);
  if (found) return { status: 'infected', name: found[1] };
  if (/size limit exceeded/i.test(reply) && / ERROR$/.test(reply))
    return { status: 'error', reason: 'too-large', detail: `clamd: ${reply}` };
  if (/^(?:stream: )?\S.* ERROR$/.test(reply) || reply === 'COMMAND READ TIMED OUT' || reply === 'UNKNOWN COMMAND')
    return { status: 'error', reason: 'unavailable', detail: `clamd: ${reply}` };
  return { status: 'error', reason: 'garbage', detail: `not a clamd reply: ${printable(reply)}` };
}

interface VirusErrorAnswer {
  status: 'error';
  reason: VirusErrorReason;
  detail: string;
}

function printable(text: string): string {
  const shown = text.length > 120 ? `${text.slice(0, 120)}…` : text;
  return JSON.stringify(shown);
}

export function createClamdClient(opts: ClamdClientOptions): ClamdClient {
  const streamMaxLength = opts.streamMaxLength ?? CLAMD_DEFAULT_STREAM_MAX_LENGTH;
  const chunkBytes = opts.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  if (!Number.isInteger(opts.maxConnections) || opts.maxConnections < 1)
    throw new Error('clamd: maxConnections must be a positive integer');
  if (!Number.isInteger(chunkBytes) || chunkBytes < 1) throw new Error('clamd: chunkBytes must be a positive integer');
  if (!(opts.timeoutMs > 0)) throw new Error('clamd: timeoutMs must be positive');

  let closed = false;
  let active = 0;
  /** Scans waiting for a slot, oldest first; each starts its own exchange when handed one. */
  const waiting: Array<() => void> = [];
  /** Ends of the scans in flight or waiting, so close() can finish them. */
  const open = new Set<(answer: VirusErrorAnswer) => void>();

  const release = (): void => {
    active--;
    const next = waiting.shift();
    if (next) next();
  };

  const sessions = opts.sessions ?? true;
  const sessionMs = opts.sessionMs ?? DEFAULT_SESSION_MS;
  if (!(sessionMs > 0)) throw new Error('clamd: sessionMs must be positive');
  /** Sessions between scans, most recently used last; at most maxConnections (each was a scan's). */
  const idle: Session[] = [];
  const sockets = new Set<net.Socket>();
  const openSession = (): Session => {
    const socket = net.connect({ host: opts.host, port: opts.port });
    socket.setNoDelay(true);
    sockets.add(socket);
    const session: Session = {
      socket,
      requests: 0,
      connected: false,
      // Anything from clamd between scans (an error, its idle timeout's close) ends the session, and at once: a
      // session on its way out must not be taken for the next scan.
      onIdle: () => {
        unpark(session);
        socket.destroy();
      },
      expired: false,
    };
    const lifetime = setTimeout(() => {
      session.expired = true;
      if (unpark(session)) socket.destroy();
    }, sessionMs);
    lifetime.unref();
    socket.once('connect', () => {
      session.connected = true;
    });
    socket.once('close', () => {
      clearTimeout(lifetime);
      sockets.delete(socket);
      const at = idle.indexOf(session);
      if (at >= 0) idle.splice(at, 1);
    });
    return session;
  };
  /** Takes a session out of the idle list; false when it was not there. */
  const unpark = (session: Session): boolean => {
    const at = idle.indexOf(session);
    if (at < 0) return false;
    idle.splice(at, 1);
    session.socket.off('data', session.onIdle);
    session.socket.off('end', session.onIdle);
    session.socket.off('error', session.onIdle);
    session.socket.ref();
    return true;
  };
  const park = (session: Session): void => {
    session.socket.on('data', session.onIdle);
    session.socket.on('end', session.onIdle);
    session.socket.on('error', session.onIdle);
    session.socket.unref();
    idle.push(session);
  };

  function scan(message: Buffer): Promise<VirusVerdict> {
    const started = performance.now();
    const elapsed = (): number => Math.round((performance.now() - started) * 100) / 100;
    if (closed) return Promise.resolve({ status: 'error', reason: 'unavailable', detail: 'clamd client closed', ms: elapsed() });
    if (message.length > streamMaxLength)
      return Promise.resolve({
        status: 'error',
        reason: 'too-large',
        detail: `${message.length} bytes over StreamMaxLength ${streamMaxLength}; not sent`,
        ms: elapsed(),
      });

    return new Promise<VirusVerdict>((resolve) => {
      let done = false;
      let holdsSlot = false;
      let socket: net.Socket | undefined;
      let queued: (() => void) | undefined;

      const finish = (answer: { status: 'clean' } | { status: 'infected'; name: string } | VirusErrorAnswer): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        open.delete(finish);
        if (queued) {
          const at = waiting.indexOf(queued);
          if (at >= 0) waiting.splice(at, 1);
        }
        socket?.destroy();
        if (holdsSlot) release();
        resolve({ ...answer, ms: elapsed() } as VirusVerdict);
      };

      const timer = setTimeout(
        () =>
          finish({
            status: 'error',
            reason: 'timeout',
            detail: socket ? `no reply from clamd within ${opts.timeoutMs} ms` : `no free connection within ${opts.timeoutMs} ms`,
          }),
        opts.timeoutMs,
      );
      open.add(finish);

      const exchange = (attempt = 1): void => {
        queued = undefined;
        if (done) return; // timed out or closed while waiting: the slot goes straight on
        if (!holdsSlot) {
          holdsSlot = true;
          active++;
        }
        // A retry goes to a new connection: the other kept sessions may be on their way out too.
        let kept: Session | undefined;
        while (sessions && attempt === 1 && !kept && idle.length > 0) {
          const candidate = idle[idle.length - 1];
          unpark(candidate);
          if (candidate.socket.writable && !candidate.expired) kept = candidate;
          else candidate.socket.destroy();
        }
        const session = kept ?? openSession();
        const s = session.socket;
        socket = s;
        const id = sessions ? ++session.requests : 0;
        let reply: Buffer = Buffer.alloc(0);
        const detach = (): void => {
          s.off('data', onData);
          s.off('end', onEnd);
          s.off('error', onError);
          s.off('close', onClose);
        };
        /** A kept session clamd closed meanwhile (its IdleTimeout): once, the scan goes to a new connection. */
        const retry = (): boolean => {
          if (!kept || attempt > 1 || reply.length > 0 || done) return false;
          detach();
          s.destroy();
          socket = undefined;
          exchange(attempt + 1);
          return true;
        };
        const answer = (text: string): void => {
          let body = text;
          if (sessions) {
            const prefix = `${id}: `;
            if (!text.startsWith(prefix))
              return finish({ status: 'error', reason: 'garbage', detail: `not a reply to request ${id}: ${printable(text)}` });
            body = text.slice(prefix.length);
          }
          const verdict = parseClamdReply(body);
          // clamd ends a session after any error; a verdict leaves it open for the next scan.
          if (sessions && verdict.status !== 'error' && !closed && !session.expired) {
            detach();
            socket = undefined;
            park(session);
          }
          finish(verdict);
        };
        function onData(data: Buffer): void {
          reply = reply.length === 0 ? data : Buffer.concat([reply, data]);
          const nul = reply.indexOf(0);
          if (nul >= 0) return answer(reply.subarray(0, nul).toString('latin1'));
          // clamd's z-mode replies never hold a line break and are short: no need to wait for the rest.
          if (reply.includes(0x0a) || reply.length > MAX_REPLY_BYTES)
            finish({ status: 'error', reason: 'garbage', detail: `not a clamd reply: ${printable(reply.toString('latin1'))}` });
        }
        function onEnd(): void {
          if (reply.length === 0 && retry()) return;
          finish(
            reply.length > 0
              ? { status: 'error', reason: 'garbage', detail: `reply not NUL-terminated: ${printable(reply.toString('latin1'))}` }
              : { status: 'error', reason: 'unavailable', detail: 'clamd closed the connection without a reply' },
          );
        }
        function onError(err: NodeJS.ErrnoException): void {
          if (retry()) return;
          finish({
            status: 'error',
            reason: 'unavailable',
            detail: session.connected
              ? `connection to clamd broke: ${err.code ?? err.message}`
              : `cannot connect to clamd: ${err.code ?? err.message}`,
          });
        }
        function onClose(): void {
          if (retry()) return;
          finish({ status: 'error', reason: 'unavailable', detail: 'connection to clamd closed without a reply' });
        }
        s.on('data', onData);
        s.on('end', onEnd);
        s.on('error', onError);
        s.on('close', onClose);
        // All frames in one writev: the chunks are views of the message, nothing is copied.
        s.cork();
        if (!kept && sessions) s.write('zIDSESSION\0');
        s.write('zINSTREAM\0');
        for (let at = 0; at < message.length; at += chunkBytes) {
          const chunk = message.subarray(at, at + chunkBytes);
          const length = Buffer.allocUnsafe(4);
          length.writeUInt32BE(chunk.length);
          s.write(length);
          s.write(chunk);
        }
        s.write(END_OF_STREAM);
        s.uncork();
      };

      if (active < opts.maxConnections) exchange();
      else {
        queued = exchange;
        waiting.push(exchange);
      }
    });
  }

  return {
    scan,
    close() {
      closed = true;
      for (const finish of [...open]) finish({ status: 'error', reason: 'unavailable', detail: 'clamd client closed' });
      for (const socket of sockets) socket.destroy();
      idle.length = 0;
    },
  };
}

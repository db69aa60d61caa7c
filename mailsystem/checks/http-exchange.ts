// A minimal HTTP/1.1 client for one request shape over a bounded pool of connections (issue 12, split out of the
// rspamd client, its one user): node:http's ClientRequest, IncomingMessage and Agent cost about as much CPU per rspamd
// check as the rest of that client (bench/smtp-scan/client-cost.ts), and rspamd's replies are small and simple.
//
// - At most maxSockets exchanges at once; the others wait in arrival order, and an abort ends the wait.
// - A connection whose reply allows it (HTTP/1.1, no `Connection: close`, a delimited body) is kept for the next
//   exchange (last in, first out); anything else is closed.
// - Replies with Content-Length, chunked, or ending with the connection; interim (1xx) replies are skipped.
// - Every outcome is a value: post() resolves, never rejects.
import net from 'node:net';

export type ExchangeOutcome =
  | { kind: 'reply'; status: number; body: Buffer }
  | { kind: 'timeout' }
  /** The body is (or announces) more than maxBodyBytes. */
  | { kind: 'too-long' }
  /** `reused`: the exchange went over a kept connection and broke before any byte of the reply (worth one retry). */
  | { kind: 'failed'; code: string | undefined; detail: string; reused: boolean };

export interface HttpExchangePoolOptions {
  host: string;
  port: number;
  /** At most this many connections at once. */
  maxSockets: number;
  /** A reply body longer than this is 'too-long'. */
  maxBodyBytes: number;
  /** The detail of a 'failed' outcome for an exchange that waited for a connection while the pool was closed. */
  closedDetail: string;
}

export interface HttpExchangePool {
  readonly closed: boolean;
  /**
   * One HTTP exchange on a kept or a new connection, once one of maxSockets is free: `head` (request line and header
   * fields, through the empty line) then `body`, written together. Resolves, never rejects; `signal` aborting gives
   * 'timeout' and destroys the connection.
   */
  post(head: Buffer, body: Buffer, signal: AbortSignal): Promise<ExchangeOutcome>;
  /** Destroys every connection; exchanges still waiting get 'failed' with closedDetail. */
  close(): void;
}

/** A reply head longer than this is not one of the small replies this client is for. */
const MAX_HEAD_BYTES = 16 * 1024;

export function createHttpExchangePool(opts: HttpExchangePoolOptions): HttpExchangePool {
  const { maxSockets, maxBodyBytes, closedDetail } = opts;
  const target = { host: opts.host, port: opts.port };
  let closed = false;
  let active = 0;
  const idle: net.Socket[] = [];
  const all = new Set<net.Socket>();
  const waiting: Array<() => void> = [];

  const release = (): void => {
    active--;
    const next = waiting.shift();
    if (next) next();
  };
  const forget = (socket: net.Socket): void => {
    all.delete(socket);
    const at = idle.indexOf(socket);
    if (at >= 0) idle.splice(at, 1);
  };
  const onIdleError = (): void => {};

  /** `done` has the outcome at once; `free` is called when the connection is idle again or closed (so that at most maxSockets are open). */
  function exchange(head: Buffer, body: Buffer, signal: AbortSignal, done: (o: ExchangeOutcome) => void, free: () => void): void {
    let socket = idle.pop();
    const reused = socket !== undefined;
    if (socket) {
      socket.ref();
      socket.off('error', onIdleError);
    } else {
      socket = net.connect(target);
      socket.setNoDelay(true);
      all.add(socket);
      const s = socket;
      socket.once('close', () => forget(s));
    }
    const s = socket;
    let settled = false;
    let chunks: Buffer[] = [];
    let received = 0;
    /** Head parsed: the status, where the body starts in the received bytes, and how it ends. */
    let status = 0;
    let bodyAt = -1;
    let contentLength = -1;
    let chunked = false;
    let keep = false;

    const finish = (outcome: ExchangeOutcome, keepSocket: boolean): void => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      s.off('data', onData);
      s.off('end', onEnd);
      s.off('error', onError);
      s.off('close', onClose);
      if (keepSocket && !closed) {
        s.on('error', onIdleError);
        s.unref();
        idle.push(s);
        free();
      } else {
        if (s.closed) free();
        else s.once('close', free);
        s.destroy();
      }
      done(outcome);
    };
    const onAbort = (): void => finish({ kind: 'timeout' }, false);
    const failed = (code: string | undefined, detail: string): void =>
      finish({ kind: 'failed', code, detail, reused: reused && received === 0 }, false);
    const onError = (err: NodeJS.ErrnoException): void =>
      failed(err.code, received > 0 ? `reply broken: ${err.code ?? 'error'}: ${err.message}` : `${err.code ?? 'error'}: ${err.message}`);
    const onClose = (): void => failed('ECONNRESET', received > 0 ? 'reply broken: connection closed' : 'socket hang up');

    const tryComplete = (ended: boolean): void => {
      const bytes = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
      chunks = [bytes];
      if (bodyAt < 0) {
        const end = bytes.indexOf('\r\n\r\n');
        if (end < 0) {
          if (bytes.length > MAX_HEAD_BYTES || ended) failed('EBADRESP', 'not an HTTP reply');
          return;
        }
        const lines = bytes.toString('latin1', 0, end).split('\r\n');
        const m = /^HTTP\/1\.([01]) (\d{3})/.exec(lines[0]);
        if (!m) return failed('EBADRESP', `not an HTTP reply: ${JSON.stringify(lines[0].slice(0, 80))}`);
        status = Number(m[2]);
        keep = m[1] === '1';
        for (let i = 1; i < lines.length; i++) {
          const colon = lines[i].indexOf(':');
          if (colon < 0) continue;
          const name = lines[i].slice(0, colon).trim().toLowerCase();
          const value = lines[i].slice(colon + 1).trim();
          if (name === 'content-length') {
            if (!/^\d+$/.test(value)) return failed('EBADRESP', `bad Content-Length: ${JSON.stringify(value)}`);
            contentLength = Number(value);
          } else if (name === 'transfer-encoding') chunked = /(?:^|,)\s*chunked\s*$/i.test(value);
          else if (name === 'connection') keep &&= !/(?:^|,)\s*close\s*(?:,|$)/i.test(value);
        }
        if (status >= 100 && status < 200) {
          // An interim reply (rspamd sends none): drop it and read on.
          chunks = [bytes.subarray(end + 4)];
          return tryComplete(ended);
        }
        bodyAt = end + 4;
        if (!chunked && contentLength < 0) keep = false;
      }
      const rest = bytes.length - bodyAt;
      if (rest > maxBodyBytes + (chunked ? MAX_HEAD_BYTES : 0)) return finish({ kind: 'too-long' }, false);
      if (chunked) {
        const body = dechunk(bytes.subarray(bodyAt), maxBodyBytes);
        if (body === 'bad') return failed('EBADRESP', 'bad chunked encoding');
        if (body === 'more') return ended ? onClose() : undefined;
        if (body.length > maxBodyBytes) return finish({ kind: 'too-long' }, false);
        return finish({ kind: 'reply', status, body: body.body }, keep && body.end === bytes.length - bodyAt);
      }
      if (contentLength >= 0) {
        if (contentLength > maxBodyBytes) return finish({ kind: 'too-long' }, false);
        if (rest < contentLength) return ended ? onClose() : undefined;
        return finish({ kind: 'reply', status, body: bytes.subarray(bodyAt, bodyAt + contentLength) }, keep && rest === contentLength);
      }
      // Neither: the body ends with the connection.
      if (ended) finish({ kind: 'reply', status, body: bytes.subarray(bodyAt) }, false);
    };
    function onData(data: Buffer): void {
      received += data.length;
      chunks.push(data);
      tryComplete(false);
    }
    function onEnd(): void {
      if (received === 0) return onClose();
      tryComplete(true);
      onClose();
    }

    signal.addEventListener('abort', onAbort, { once: true });
    s.on('data', onData);
    s.on('end', onEnd);
    s.on('error', onError);
    s.on('close', onClose);
    // Head and message in one writev, the message not copied.
    s.cork();
    s.write(head);
    s.write(body);
    s.uncork();
  }

  return {
    get closed() {
      return closed;
    },
    post(head, body, signal) {
      return new Promise<ExchangeOutcome>((resolve) => {
        if (signal.aborted) return resolve({ kind: 'timeout' });
        const start = (): void => {
          signal.removeEventListener('abort', onWaitAbort);
          if (closed) return resolve({ kind: 'failed', code: undefined, detail: closedDetail, reused: false });
          active++;
          exchange(head, body, signal, resolve, release);
        };
        const onWaitAbort = (): void => {
          const at = waiting.indexOf(start);
          if (at >= 0) waiting.splice(at, 1);
          resolve({ kind: 'timeout' });
        };
        if (active < maxSockets) return start();
        signal.addEventListener('abort', onWaitAbort, { once: true });
        waiting.push(start);
      });
    },
    close() {
      closed = true;
      for (const s of all) s.destroy();
      all.clear();
      idle.length = 0;
      for (const start of waiting.splice(0)) start();
    },
  };
}

/** A chunked body's bytes: the body and where the encoding ended, 'more' when incomplete, 'bad' when malformed. */
function dechunk(raw: Buffer, maxBodyBytes: number): { body: Buffer; end: number; length: number } | 'more' | 'bad' {
  const parts: Buffer[] = [];
  let length = 0;
  let at = 0;
  for (;;) {
    const eol = raw.indexOf('\r\n', at);
    if (eol < 0) return raw.length - at > 1024 ? 'bad' : 'more';
    const size = /^([0-9a-fA-F]{1,8})(?:;.*)?$/.exec(raw.toString('latin1', at, eol));
    if (!size) return 'bad';
    const n = Number.parseInt(size[1], 16);
    if (n === 0) {
      // Trailer fields (none expected), then the empty line.
      let t = eol + 2;
      for (;;) {
        const e = raw.indexOf('\r\n', t);
        if (e < 0) return 'more';
        if (e === t) return { body: Buffer.concat(parts, length), end: e + 2, length };
        t = e + 2;
      }
    }
    if (raw.length < eol + 2 + n + 2) return 'more';
    parts.push(raw.subarray(eol + 2, eol + 2 + n));
    length += n;
    if (length > maxBodyBytes) return { body: Buffer.alloc(0), end: 0, length };
    at = eol + 2 + n + 2;
  }
}

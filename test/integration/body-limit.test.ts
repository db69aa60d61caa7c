// Every request body is capped (1 MiB) before anything parses it: streamed 100 MB bodies to the real server/main.ts are
// answered 413 after about a megabyte, a declared oversize Content-Length without reading, and the server stays small.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServerMain, type ServerMain } from '../support/server-main.ts';
import { makeHarness } from './api-harness.ts';

const MiB = 1024 * 1024;
const HUNDRED_MB = 100 * MiB;
const temp = mkdtempSync(join(tmpdir(), 'tidings-body-limit-'));
let server: ServerMain | undefined;
let port = 0;

before(async () => {
  server = await startServerMain({ TIDINGS_ROLE: 'backend', TIDINGS_STATE_DIR: join(temp, 'state') });
  port = server.port;
});

after(async () => {
  try {
    await server?.stop();
  } finally {
    rmSync(temp, { recursive: true, force: true });
  }
});

/** The server's peak resident memory so far, from the kernel. */
function peakRssMiB(): number {
  const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${server!.child.pid}/status`, 'utf8'));
  assert.ok(m, 'VmHWM in /proc/<pid>/status');
  return Number(m[1]) / 1024;
}

/**
 * `total` bytes generated as they are sent (one reused 64 KiB chunk), so the test itself never holds the body. One
 * chunk per turn of the event loop: the answer is read as soon as it arrives, not after a burst of writes (by then
 * the server may have dropped the connection, and the write error would hide the answer).
 */
function generated(prefix: string, total: number): Readable & { sent: () => number } {
  const chunk = Buffer.alloc(64 * 1024, 'a');
  let sent = 0;
  const stream = new Readable({
    read() {
      setImmediate(() => {
        if (sent === 0) {
          sent += prefix.length;
          this.push(prefix);
          return;
        }
        if (sent >= total) {
          this.push(null);
          return;
        }
        const n = Math.min(chunk.length, total - sent);
        sent += n;
        this.push(n === chunk.length ? chunk : chunk.subarray(0, n));
      });
    },
  });
  return Object.assign(stream, { sent: () => sent });
}

interface Answer {
  status: number;
  type: string;
  body: string;
  sentBeforeAnswer: number;
  ms: number;
}

/**
 * Posts a streamed body; resolves on the answer and stops sending then (the rest of the upload is abandoned). A
 * keep-alive connection, as browsers use: Node's agent: false sends "Connection: close", on which the server closes the
 * socket right after its answer, and the client's next write (EPIPE) can then beat the answer it already received.
 */
function post(path: string, headers: Record<string, string>, body: (Readable & { sent: () => number }) | null): Promise<Answer> {
  const started = Date.now();
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  return new Promise<Answer>((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path, headers, agent, timeout: 60_000 }, (res: IncomingMessage) => {
      const sentBeforeAnswer = body?.sent() ?? 0;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        body?.unpipe(req);
        req.destroy();
        resolve({
          status: res.statusCode!,
          type: String(res.headers['content-type']),
          body: Buffer.concat(chunks).toString(),
          sentBeforeAnswer,
          ms: Date.now() - started,
        });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => {
      req.destroy();
      reject(new Error(`${path}: no answer in 60 s`));
    });
    // Writes after the answer fail once the server drops the connection: that is the point, not an error.
    req.on('error', (e) => {
      if (!req.destroyed || !/ECONNRESET|EPIPE|socket hang up/.test(String(e)))
        reject(
          new Error(
            `${path}: ${e.message} after ${((body?.sent() ?? 0) / MiB).toFixed(1)} MiB, ${Date.now() - started} ms, before an answer`,
          ),
        );
    });
    if (body) body.pipe(req);
    else req.flushHeaders();
  }).finally(() => agent.destroy());
}

test('streamed (chunked) 100 MB form, JSON and multipart bodies: 413 after about a megabyte, and the server stays small', async () => {
  const cases = [
    { path: '/api/v1/auth/login', type: 'application/x-www-form-urlencoded', prefix: 'username=alice&password=', problem: true },
    { path: '/api/v1/auth/login', type: 'application/json', prefix: '{"username":"alice","password":"', problem: true },
    { path: '/api/v1/tasks', type: 'application/json', prefix: '{"summary":"', problem: true },
    { path: '/staff/login', type: 'application/x-www-form-urlencoded', prefix: 'username=alice&password=', problem: false },
    {
      path: '/staff/login',
      type: 'multipart/form-data; boundary=xyz',
      prefix: '--xyz\r\nContent-Disposition: form-data; name="password"\r\n\r\n',
      problem: false,
    },
  ];
  for (const c of cases) {
    const body = generated(c.prefix, HUNDRED_MB);
    const r = await post(c.path, { 'content-type': c.type, 'transfer-encoding': 'chunked' }, body);
    const what = `${c.type} to ${c.path}`;
    assert.equal(r.status, 413, `${what}: ${r.body.slice(0, 200)}`);
    assert.ok(r.sentBeforeAnswer < 32 * MiB, `${what}: answered after ${(r.sentBeforeAnswer / MiB).toFixed(1)} MiB were sent`);
    if (c.problem) {
      assert.equal(r.type, 'application/problem+json', what);
      assert.equal(JSON.parse(r.body).status, 413);
    } else {
      assert.match(r.type, /^text\/html/, what);
      assert.match(r.body, /Content Too Large/);
    }
  }
  const peak = peakRssMiB();
  assert.ok(peak < 300, `server peak RSS ${peak.toFixed(0)} MiB`);
});

test('a declared Content-Length over the limit is a 413 before any of the body is sent', async () => {
  for (const [path, type] of [
    ['/api/v1/auth/login', 'application/x-www-form-urlencoded'],
    ['/api/v1/auth/login', 'application/json'],
    ['/staff/login', 'application/x-www-form-urlencoded'],
    ['/staff/tasks', 'multipart/form-data; boundary=xyz'],
  ]) {
    const r = await post(path, { 'content-type': type, 'content-length': String(HUNDRED_MB) }, null);
    assert.equal(r.status, 413, `${type} to ${path}: ${r.body.slice(0, 200)}`);
  }
  const peak = peakRssMiB();
  assert.ok(peak < 300, `server peak RSS ${peak.toFixed(0)} MiB`);
});

test('the cap is 1 MiB: a body of exactly 1 MiB is read, one byte more is not', async () => {
  const h = makeHarness();
  const s = await h.admin();
  const comment = (size: number) => {
    const prefix = '{"body":"';
    return `${prefix}${'x'.repeat(size - prefix.length - 2)}"}`;
  };
  const send = (body: string, chunked: boolean) =>
    h.app.request('/api/v1/tasks/2733/comments', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        cookie: s.cookie,
        'x-csrf-token': s.csrf,
        ...(chunked ? {} : { 'content-length': String(Buffer.byteLength(body)) }),
      },
      // A stream has no length of its own: the limit has to count what arrives.
      body: chunked ? (Readable.toWeb(Readable.from([Buffer.from(body)])) as ReadableStream) : body,
      duplex: 'half',
    } as RequestInit);
  for (const chunked of [false, true]) {
    // 100,000 characters is the comment's own limit: a 400 from the schema shows the body was read and parsed.
    assert.equal((await send(comment(MiB), chunked)).status, 400, `1 MiB, chunked=${chunked}`);
    const over = await send(comment(MiB + 1), chunked);
    assert.equal(over.status, 413, `1 MiB + 1, chunked=${chunked}`);
    assert.equal(over.headers.get('content-type'), 'application/problem+json');
  }
});

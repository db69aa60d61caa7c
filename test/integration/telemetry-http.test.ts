// The shipper's POST (mailsystem/telemetry/http.ts) against a real HTTP server on port 0: what it sends, the
// status and JSON body it hands back, one kept-alive connection for many posts, no redirect followed, and the
// failures the shipper relies on (timeout, abort, an oversized answer, a connection cut mid-answer) reject.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createBackendPost } from '#mailsystem/telemetry/http.ts';
import { waitFor } from '../support/wait.ts';

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

describe('telemetry POST over node:http', () => {
  const seen: Seen[] = [];
  let connections = 0;
  let url = '';
  let handler: (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void = () => {};
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      handler(req, res, body);
    });
  });
  server.on('connection', () => connections++);

  before(async () => {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    console.log(`# fake backend on ${url}`);
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  const json = (status: number, body: unknown) => (_req: http.IncomingMessage, res: http.ServerResponse) => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };

  it('sends the JSON body with the token and hands back status and parsed JSON; three posts share one connection', async () => {
    handler = json(200, { cursor: 7, applied: 2 });
    seen.length = 0;
    connections = 0;
    const post = createBackendPost({ backendUrl: url, token: 'mxn_test' });
    const body = { after: 5, events: [{ seq: 6, at: 1, type: 'rejected', reason: 'storage', note: 'ünïcode ✓' }] };
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(await post('/api/v1/telemetry', body, new AbortController().signal), {
        status: 200,
        body: { cursor: 7, applied: 2 },
      });
    }
    assert.equal(seen.length, 3);
    assert.equal(seen[0].method, 'POST');
    assert.equal(seen[0].url, '/api/v1/telemetry');
    assert.equal(seen[0].headers.authorization, 'Bearer mxn_test');
    assert.equal(seen[0].headers['content-type'], 'application/json');
    assert.equal(Number(seen[0].headers['content-length']), Buffer.byteLength(JSON.stringify(body)));
    assert.deepEqual(JSON.parse(seen[0].body), body);
    assert.equal(connections, 1, 'kept alive: one connection for three posts');
  });

  it('a non-JSON or empty answer is body null; an error status is handed back, not thrown; a redirect is not followed', async () => {
    const post = createBackendPost({ backendUrl: url, token: 't' });
    const signal = new AbortController().signal;
    handler = (_q, res) => res.writeHead(502).end('<html>bad gateway</html>');
    assert.deepEqual(await post('/x', {}, signal), { status: 502, body: null });
    handler = (_q, res) => res.writeHead(204).end();
    assert.deepEqual(await post('/x', {}, signal), { status: 204, body: null });
    handler = json(409, { cursor: 3 });
    assert.deepEqual(await post('/x', {}, signal), { status: 409, body: { cursor: 3 } });
    seen.length = 0;
    handler = (_q, res) => res.writeHead(307, { location: '/elsewhere' }).end();
    assert.deepEqual(await post('/api/v1/telemetry', {}, signal), { status: 307, body: null });
    assert.deepEqual(
      seen.map((s) => s.url),
      ['/api/v1/telemetry'],
      'nothing sent to the redirect target',
    );
  });

  it('rejects when no answer comes within the timeout, on abort (before and during), on an oversized answer, on a cut answer', async () => {
    const hung: http.ServerResponse[] = [];
    handler = (_q, res) => void hung.push(res);
    const post = createBackendPost({ backendUrl: url, token: 't', requestTimeoutMs: 150, maxResponseBytes: 1000 });
    const t0 = Date.now();
    await assert.rejects(post('/x', {}, new AbortController().signal), /no answer from the backend within 150 ms/);
    assert.ok(Date.now() - t0 < 5000);

    const slow = createBackendPost({ backendUrl: url, token: 't', requestTimeoutMs: 60_000 });
    const ac = new AbortController();
    const pending = slow('/x', {}, ac.signal);
    await waitFor(() => hung.length >= 2, 'the second request reached the server');
    ac.abort(new Error('shipper stopped'));
    await assert.rejects(pending, /shipper stopped/);
    await assert.rejects(slow('/x', {}, ac.signal), /shipper stopped/, 'already aborted: nothing sent');
    assert.equal(hung.length, 2);

    handler = (_q, res) => res.writeHead(200).end('x'.repeat(5000));
    await assert.rejects(post('/x', {}, new AbortController().signal), /exceeds 1000 bytes/);
    handler = (_q, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('{"cursor":');
      setImmediate(() => res.socket?.destroy());
    };
    await assert.rejects(post('/x', {}, new AbortController().signal));
    for (const r of hung) r.socket?.destroy();
  });

  it('a refused connection rejects', async () => {
    const probe = http.createServer();
    probe.listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const port = (probe.address() as AddressInfo).port;
    probe.close();
    await once(probe, 'close');
    const post = createBackendPost({ backendUrl: `http://127.0.0.1:${port}`, token: 't', requestTimeoutMs: 2000 });
    await assert.rejects(post('/x', {}, new AbortController().signal), /ECONNREFUSED/);
  });
});

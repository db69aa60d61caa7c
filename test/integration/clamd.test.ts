// The clamd client (mailsystem/checks/clamd.ts, issue 12) against the real Debian clamd for every verdict clamd gives,
// and against small fake servers only for the failure modes a real clamd will not produce on demand (a stall, garbage,
// a dropped connection) and to count connections.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { type ClamdClientOptions, createClamdClient, parseClamdReply, type VirusVerdict } from '#mailsystem/checks/clamd.ts';
import { type Clamd, EICAR, EICAR_SIGNATURE, mimeWithAttachment, plainMessage, startClamd, storedZip } from '../support/clamd.ts';
import { reservePort } from '../support/ports.ts';
import { startTcpProxy } from '../support/tcp-proxy.ts';
import { waitFor } from '../support/wait.ts';

const eicar = Buffer.from(EICAR, 'latin1');
const eicarMail = (): Buffer => mimeWithAttachment(eicar, 'eicar.com');
const eicarZipMail = (): Buffer =>
  mimeWithAttachment(
    storedZip([
      { name: 'readme.txt', data: Buffer.from('nothing to see here\r\n') },
      { name: 'eicar.com', data: eicar },
    ]),
    'files.zip',
    'application/zip',
  );

function assertInfected(verdict: VirusVerdict): void {
  assert.equal(verdict.status, 'infected', JSON.stringify(verdict));
  assert.ok(verdict.status === 'infected' && verdict.name.includes(EICAR_SIGNATURE), JSON.stringify(verdict));
}

function assertError(verdict: VirusVerdict, reason: string): void {
  assert.equal(verdict.status, 'error', JSON.stringify(verdict));
  assert.equal(verdict.status === 'error' && verdict.reason, reason, JSON.stringify(verdict));
}

/** A loopback server on port 0 that counts its connections (open now, most at once, all) and when they close. */
interface Fake {
  port: number;
  connections: number;
  open: number;
  maxOpen: number;
  closed: number;
  stop(): Promise<void>;
}

async function startFake(onConnection: (socket: net.Socket, fake: Fake) => void): Promise<Fake> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    fake.connections++;
    fake.open++;
    fake.maxOpen = Math.max(fake.maxOpen, fake.open);
    let counted = true;
    const gone = (): void => {
      if (!counted) return;
      counted = false;
      fake.open--;
    };
    // A fake that answered counts the connection as done at once, as clamd does; the client's close may come later.
    (socket as net.Socket & { done?: () => void }).done = gone;
    socket.on('error', () => {});
    socket.on('close', () => {
      gone();
      fake.closed++;
      sockets.delete(socket);
    });
    // Reading (and dropping) what nobody else reads is what lets a fake notice the client's close.
    socket.resume();
    onConnection(socket, fake);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const fake: Fake = {
    port: (server.address() as net.AddressInfo).port,
    connections: 0,
    open: 0,
    maxOpen: 0,
    closed: 0,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  return fake;
}

/** Reads one zINSTREAM off `socket` (command, length-prefixed chunks, zero length), then calls back with the bytes. */
function readInstream(socket: net.Socket, onStream: (message: Buffer) => void): void {
  let buf = Buffer.alloc(0);
  let commandRead = false;
  const chunks: Buffer[] = [];
  const onData = (data: Buffer): void => {
    buf = Buffer.concat([buf, data]);
    if (!commandRead) {
      const nul = buf.indexOf(0);
      if (nul < 0) return;
      assert.equal(buf.subarray(0, nul).toString(), 'zINSTREAM');
      buf = buf.subarray(nul + 1);
      commandRead = true;
    }
    while (buf.length >= 4) {
      const length = buf.readUInt32BE(0);
      if (length === 0) {
        socket.off('data', onData);
        return onStream(Buffer.concat(chunks));
      }
      if (buf.length < 4 + length) return;
      chunks.push(buf.subarray(4, 4 + length));
      buf = buf.subarray(4 + length);
    }
  };
  socket.on('data', onData);
}

/** The fakes speak one INSTREAM per connection (clamd outside a session). */
const fakeClient = (fake: Fake, more: Partial<ClamdClientOptions> = {}) =>
  createClamdClient({ host: '127.0.0.1', port: fake.port, timeoutMs: 5000, maxConnections: 4, sessions: false, ...more });

describe('clamd client against the real clamd', () => {
  let clamd: Clamd;
  let client: ReturnType<typeof createClamdClient>;
  before(async () => {
    clamd = await startClamd({ streamMaxLength: 256 * 1024 });
    client = createClamdClient({
      host: '127.0.0.1',
      port: clamd.port,
      timeoutMs: 10_000,
      maxConnections: 4,
      streamMaxLength: clamd.streamMaxLength,
    });
  });
  after(async () => {
    client?.close();
    await clamd?.stop();
  });

  test('a plain message is clean', async () => {
    const verdict = await client.scan(plainMessage(4096));
    assert.equal(verdict.status, 'clean', JSON.stringify(verdict));
    assert.ok(verdict.ms >= 0);
  });

  test('EICAR as a base64 MIME attachment is infected: clamd decodes the mail parts (ScanMail)', async () => {
    // The EICAR string is nowhere in the raw bytes, only in the decoded attachment.
    const message = eicarMail();
    assert.equal(message.includes(eicar), false);
    assertInfected(await client.scan(message));
  });

  test('EICAR inside a stored zip inside a MIME attachment is infected', async () => {
    const zip = storedZip([{ name: 'eicar.com', data: eicar }]);
    assert.ok(zip.includes(eicar), 'the zip stores its member uncompressed');
    // The zip alone, and as a base64 attachment.
    assertInfected(await client.scan(zip));
    assertInfected(await client.scan(eicarZipMail()));
    // The same zip with a harmless member is clean: the zip itself is not what matched.
    const harmless = storedZip([{ name: 'readme.txt', data: Buffer.from('nothing to see here\r\n') }]);
    assert.equal((await client.scan(mimeWithAttachment(harmless, 'files.zip', 'application/zip'))).status, 'clean');
  });

  test('chunk framing: tiny chunks split the attachment anywhere and clamd still finds it', async () => {
    const tiny = createClamdClient({ host: '127.0.0.1', port: clamd.port, timeoutMs: 10_000, maxConnections: 1, chunkBytes: 7 });
    try {
      assertInfected(await tiny.scan(eicarMail()));
      assert.equal((await tiny.scan(plainMessage(1000))).status, 'clean');
      // An empty message is a valid stream: no chunk, only the terminator.
      assert.equal((await tiny.scan(Buffer.alloc(0))).status, 'clean');
    } finally {
      tiny.close();
    }
  });

  test('StreamMaxLength: up to the limit is scanned, one byte over is too-large and not sent', async () => {
    const limit = clamd.streamMaxLength;
    const atLimit = Buffer.concat([plainMessage(limit - 1000), Buffer.alloc(limit, 'a')]).subarray(0, limit);
    assert.equal((await client.scan(atLimit)).status, 'clean');
    const over = Buffer.concat([atLimit, Buffer.from('a')]);
    const verdict = await client.scan(over);
    assertError(verdict, 'too-large');
    assert.match(verdict.status === 'error' ? verdict.detail : '', /not sent/);
  });

  test("a client whose streamMaxLength is above clamd's gets clamd's size-limit error as too-large", async () => {
    const unaware = createClamdClient({ host: '127.0.0.1', port: clamd.port, timeoutMs: 10_000, maxConnections: 1 });
    try {
      // Over clamd's limit by a little, so the whole stream is in the socket buffers before clamd answers and closes.
      const verdict = await unaware.scan(Buffer.alloc(clamd.streamMaxLength + 64 * 1024, 'a'));
      assertError(verdict, 'too-large');
      assert.match(verdict.status === 'error' ? verdict.detail : '', /size limit exceeded/);
    } finally {
      unaware.close();
    }
  });

  test('20 concurrent scans through 4 connections: each gets its own verdict', async () => {
    const messages = Array.from({ length: 20 }, (_, i) =>
      i % 3 === 0 ? eicarMail() : i % 3 === 1 ? eicarZipMail() : plainMessage(2000 + i),
    );
    const verdicts = await Promise.all(messages.map((m) => client.scan(m)));
    verdicts.forEach((verdict, i) => {
      if (i % 3 === 2) assert.equal(verdict.status, 'clean', `#${i}: ${JSON.stringify(verdict)}`);
      else assertInfected(verdict);
    });
  });

  /** A loopback TCP relay in front of the real clamd, counting connections; `dropAll` cuts them as clamd's idle timeout would. */
  const relay = () => startTcpProxy(clamd.port);

  test('sessions: one connection serves scan after scan (IDSESSION), verdicts in order; without sessions one each', async () => {
    for (const sessions of [true, false]) {
      const via = await relay();
      const c = createClamdClient({ host: '127.0.0.1', port: via.port, timeoutMs: 10_000, maxConnections: 1, sessions });
      try {
        for (let i = 0; i < 6; i++) {
          const verdict = await c.scan(i % 2 ? eicarMail() : plainMessage(1000 + i));
          if (i % 2) assertInfected(verdict);
          else assert.equal(verdict.status, 'clean', JSON.stringify(verdict));
        }
        assert.equal(via.sessions.length, sessions ? 1 : 6, `sessions ${sessions}`);
      } finally {
        c.close();
        await via.stop();
      }
    }
  });

  test('sessions: after a size-limit error (clamd ends the session) the next scan gets a new session', async () => {
    const via = await relay();
    const c = createClamdClient({ host: '127.0.0.1', port: via.port, timeoutMs: 10_000, maxConnections: 1 });
    try {
      assert.equal((await c.scan(plainMessage())).status, 'clean');
      // Through the relay clamd's reply can be lost to its close while the stream is still being sent: then the
      // scan is tried once more on a new connection, and is 'unavailable' if that loses it too. Both fail closed.
      const over = await c.scan(Buffer.alloc(clamd.streamMaxLength + 64 * 1024, 'a'));
      assert.ok(over.status === 'error' && ['too-large', 'unavailable'].includes(over.reason), JSON.stringify(over));
      const before = via.sessions.length;
      assertInfected(await c.scan(eicarMail()));
      assert.equal((await c.scan(plainMessage())).status, 'clean');
      assert.equal(via.sessions.length, before + 1, 'one new session for the two scans after the error');
    } finally {
      c.close();
      await via.stop();
    }
  });

  test('sessions: a kept session closed while idle (as by IdleTimeout) → the scan goes to a new one, once', async () => {
    const via = await relay();
    const c = createClamdClient({ host: '127.0.0.1', port: via.port, timeoutMs: 10_000, maxConnections: 1 });
    try {
      assert.equal((await c.scan(plainMessage())).status, 'clean');
      via.dropAll();
      assertInfected(await c.scan(eicarMail()));
      assert.equal(via.sessions.length, 2);
    } finally {
      c.close();
      await via.stop();
    }
  });

  test("sessions end after sessionMs, so kept sessions cannot starve other clients past clamd's MaxQueue (100)", async () => {
    // 16 sessions left idle by one client, then 100 scans at once by another: 116 connections where clamd polls 100.
    // Kept for ever, the idle 16 held their places and 16 of the 100 never got a reply.
    const holder = createClamdClient({ host: '127.0.0.1', port: clamd.port, timeoutMs: 10_000, maxConnections: 16, sessionMs: 300 });
    const busy = createClamdClient({ host: '127.0.0.1', port: clamd.port, timeoutMs: 10_000, maxConnections: 100, sessionMs: 300 });
    try {
      const first = await Promise.all(Array.from({ length: 16 }, (_, i) => holder.scan(plainMessage(3000 + i))));
      assert.ok(first.every((v) => v.status === 'clean'));
      for (let round = 0; round < 2; round++) {
        const verdicts = await Promise.all(Array.from({ length: 100 }, (_, i) => busy.scan(plainMessage(4000 + i))));
        const failed = verdicts.filter((v) => v.status !== 'clean');
        assert.equal(failed.length, 0, JSON.stringify(failed.slice(0, 3)));
      }
    } finally {
      holder.close();
      busy.close();
    }
  });

  test('clamd stopped → unavailable, at once', async () => {
    const port = clamd.port;
    const again = createClamdClient({ host: '127.0.0.1', port, timeoutMs: 10_000, maxConnections: 1 });
    try {
      assert.equal((await again.scan(plainMessage())).status, 'clean');
      await clamd.stop();
      const verdict = await again.scan(plainMessage());
      assertError(verdict, 'unavailable');
      assert.match(verdict.status === 'error' ? verdict.detail : '', /ECONNREFUSED/);
      assert.ok(verdict.ms < 5000, `${verdict.ms} ms`);
    } finally {
      again.close();
    }
  });
});

describe('clamd client failure modes', () => {
  test('nothing listens on the port → unavailable', async () => {
    const unused = await reservePort();
    try {
      const client = createClamdClient({ host: '127.0.0.1', port: unused.port, timeoutMs: 5000, maxConnections: 2 });
      const verdict = await client.scan(plainMessage());
      assertError(verdict, 'unavailable');
      assert.match(verdict.status === 'error' ? verdict.detail : '', /cannot connect.*ECONNREFUSED/);
      client.close();
    } finally {
      unused.release();
    }
  });

  test('a server that accepts and never answers → timeout within the timeout, and the connection is closed', async () => {
    const fake = await startFake(() => {});
    const client = fakeClient(fake, { timeoutMs: 300 });
    try {
      const verdict = await client.scan(plainMessage());
      assertError(verdict, 'timeout');
      assert.ok(verdict.ms >= 290 && verdict.ms < 1300, `${verdict.ms} ms`);
      await waitFor(() => fake.closed === 1, 'the stalled connection closed by the client');
    } finally {
      client.close();
      await fake.stop();
    }
  });

  test('scans queued behind a stalled one time out within their own timeout', async () => {
    const fake = await startFake(() => {});
    const client = fakeClient(fake, { timeoutMs: 300, maxConnections: 1 });
    try {
      const verdicts = await Promise.all(Array.from({ length: 3 }, () => client.scan(plainMessage())));
      for (const verdict of verdicts) {
        assertError(verdict, 'timeout');
        assert.ok(verdict.ms >= 290 && verdict.ms < 1300, `${verdict.ms} ms`);
      }
      // Each slot passes on when its holder times out; the fake may see the next connect before the last close.
      assert.ok(fake.connections >= 1 && fake.connections <= 3, `${fake.connections} connections`);
      await waitFor(() => fake.closed === fake.connections, 'every connection closed by the client');
    } finally {
      client.close();
      await fake.stop();
    }
  });

  for (const [what, reply] of [
    ['an HTTP reply', 'HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n'],
    ['an unknown stream reply', 'stream: MAYBE\0'],
    ['an empty reply', '\0'],
    ['a reply without its NUL, then close', 'stream: OK'],
    ['an endless reply without NUL', 'x'.repeat(10_000)],
  ] as const) {
    test(`garbage: ${what} → garbage`, async () => {
      const fake = await startFake((socket) => readInstream(socket, () => socket.end(reply)));
      const client = fakeClient(fake);
      try {
        const verdict = await client.scan(plainMessage());
        assertError(verdict, 'garbage');
        assert.ok(verdict.ms < 4000, `${verdict.ms} ms`);
        await waitFor(() => fake.closed === 1, 'the connection closed');
      } finally {
        client.close();
        await fake.stop();
      }
    });
  }

  test('garbage before the stream is read, on a connection left open → garbage at once', async () => {
    const fake = await startFake((socket) => socket.write('220 smtp.example ESMTP ready\r\n'));
    const client = fakeClient(fake, { timeoutMs: 5000 });
    try {
      const verdict = await client.scan(plainMessage());
      assertError(verdict, 'garbage');
      assert.ok(verdict.ms < 4000, `${verdict.ms} ms`);
      await waitFor(() => fake.closed === 1, 'the connection closed by the client');
    } finally {
      client.close();
      await fake.stop();
    }
  });

  test('a server that closes without a reply → unavailable', async () => {
    const fake = await startFake((socket) => readInstream(socket, () => socket.end()));
    const client = fakeClient(fake);
    try {
      assertError(await client.scan(plainMessage()), 'unavailable');
    } finally {
      client.close();
      await fake.stop();
    }
  });

  test('in a session, a reply numbered for another request → garbage', async () => {
    const fake = await startFake((socket) => socket.once('data', () => socket.write('7: stream: OK\0')));
    const client = fakeClient(fake, { sessions: true });
    try {
      const verdict = await client.scan(plainMessage());
      assertError(verdict, 'garbage');
      assert.match(verdict.status === 'error' ? verdict.detail : '', /request 1/);
    } finally {
      client.close();
      await fake.stop();
    }
  });

  test('sessions reset all at once (clamd restarting): the retry connects anew instead of taking another dead session', async () => {
    // A fake speaking clamd's session protocol; once `resetAll` is set, the next request on any session resets every
    // connection, as a restarting clamd would. The client has three kept sessions: the scan's own fails, and the
    // others are dead too, whatever order their resets reach the client in.
    const live = new Set<net.Socket>();
    let resetAll = false;
    const fake = await startFake((socket) => {
      live.add(socket);
      socket.on('close', () => live.delete(socket));
      let buf = Buffer.alloc(0);
      let requests = 0;
      socket.on('data', (data: Buffer) => {
        buf = Buffer.concat([buf, data]);
        for (;;) {
          if (buf.subarray(0, 11).toString('latin1') === 'zIDSESSION\0') buf = buf.subarray(11);
          if (buf.length < 14 || buf.subarray(0, 10).toString('latin1') !== 'zINSTREAM\0') return;
          let at = 10;
          for (;;) {
            if (buf.length < at + 4) return;
            const n = buf.readUInt32BE(at);
            if (buf.length < at + 4 + n) return;
            at += 4 + n;
            if (n === 0) break;
          }
          buf = buf.subarray(at);
          if (resetAll) {
            resetAll = false; // once: the retry's new connection is answered
            for (const s of live) s.resetAndDestroy();
            return;
          }
          socket.write(`${++requests}: stream: OK\0`);
        }
      });
    });
    const client = fakeClient(fake, { sessions: true, maxConnections: 3 });
    try {
      const first = await Promise.all(Array.from({ length: 3 }, () => client.scan(plainMessage())));
      assert.deepEqual(
        first.map((v) => v.status),
        ['clean', 'clean', 'clean'],
      );
      assert.equal(fake.connections, 3);
      resetAll = true;
      const verdict = await client.scan(plainMessage());
      assert.equal(verdict.status, 'clean', JSON.stringify(verdict));
      assert.equal(fake.connections, 4);
    } finally {
      client.close();
      await fake.stop();
    }
  });

  test('a message over streamMaxLength is too-large without a connection', async () => {
    const fake = await startFake((socket) => readInstream(socket, () => socket.end('stream: OK\0')));
    const client = fakeClient(fake, { streamMaxLength: 1000 });
    try {
      assert.equal((await client.scan(Buffer.alloc(1000, 'a'))).status, 'clean');
      assertError(await client.scan(Buffer.alloc(1001, 'a')), 'too-large');
      assert.equal(fake.connections, 1);
    } finally {
      client.close();
      await fake.stop();
    }
  });

  test('20 concurrent scans with maxConnections 4: all answered, never more than 4 connections at once', async () => {
    // The fake holds its replies until 4 finished streams wait at once (or the rest of the 20 do), so a pool that
    // let more through would show it in maxOpen, and one that let fewer through would hang.
    const total = 20;
    let answered = 0;
    const held: Array<() => void> = [];
    const fake = await startFake((socket, f) =>
      readInstream(socket, (message) => {
        held.push(() => {
          (socket as net.Socket & { done?: () => void }).done!();
          socket.end(`stream: OK\0`);
          answered++;
          assert.ok(message.length > 0);
        });
        if (held.length === 4 || held.length === total - answered) for (const answer of held.splice(0)) answer();
        assert.ok(f.open <= 4);
      }),
    );
    const client = fakeClient(fake, { maxConnections: 4, timeoutMs: 10_000 });
    try {
      const verdicts = await Promise.all(Array.from({ length: total }, (_, i) => client.scan(plainMessage(100 + i))));
      assert.deepEqual(
        verdicts.map((v) => v.status),
        Array(total).fill('clean'),
      );
      assert.equal(fake.connections, total);
      assert.equal(fake.maxOpen, 4);
      await waitFor(
        () => fake.closed === total,
        () => `all ${total} connections closed (${fake.closed})`,
      );
    } finally {
      client.close();
      await fake.stop();
    }
  });

  test('close() ends scans in flight and waiting as unavailable and closes their connections', async () => {
    const fake = await startFake(() => {});
    const client = fakeClient(fake, { maxConnections: 2, timeoutMs: 10_000 });
    try {
      const scans = Array.from({ length: 3 }, () => client.scan(plainMessage()));
      await waitFor(() => fake.connections === 2, 'two connections open');
      client.close();
      const verdicts = await Promise.all(scans);
      for (const verdict of verdicts) assertError(verdict, 'unavailable');
      assertError(await client.scan(plainMessage()), 'unavailable');
      await waitFor(() => fake.closed === 2, 'both connections closed');
      assert.equal(fake.connections, 2);
    } finally {
      await fake.stop();
    }
  });
});

test('clamd replies: what each one means', () => {
  assert.deepEqual(parseClamdReply('stream: OK'), { status: 'clean' });
  assert.deepEqual(parseClamdReply('stream: Test.EICAR.Local.UNOFFICIAL FOUND'), {
    status: 'infected',
    name: 'Test.EICAR.Local.UNOFFICIAL',
  });
  assert.equal(parseClamdReply('INSTREAM size limit exceeded. ERROR').status, 'error');
  assert.equal((parseClamdReply('INSTREAM size limit exceeded. ERROR') as { reason: string }).reason, 'too-large');
  for (const known of [
    "stream: Can't allocate memory ERROR",
    'Error processing command. ERROR',
    'COMMAND READ TIMED OUT',
    'UNKNOWN COMMAND',
  ])
    assert.equal((parseClamdReply(known) as { reason: string }).reason, 'unavailable', known);
  for (const bad of ['stream: FOUND', 'stream:  FOUND', 'stream: ok', 'OK', '', 'PONG', 'stream: MAYBE'])
    assert.equal((parseClamdReply(bad) as { reason: string }).reason, 'garbage', bad);
});

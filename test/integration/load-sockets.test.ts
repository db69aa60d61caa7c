// The SMTP load generator (test/support/load.ts) closes every connection it opens, however its run ends: a
// socket left open keeps a test process alive after its tests pass, and npm test hangs (crash-lmtp did).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { runLoad } from '../support/load.ts';
import { waitFor } from '../support/wait.ts';

interface FakeMx {
  port: number;
  /** Connections this server accepted and the client has not closed yet (the server never closes one). */
  open: () => number;
  accepted: () => number;
  close: () => Promise<void>;
}

/**
 * A loopback SMTP peer that never hangs up by itself: it answers everything 250/354 (or, with greet:false,
 * never sends a greeting, like a node that died holding a finished handshake in its accept queue).
 */
async function fakeMx(greet: boolean): Promise<FakeMx> {
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  const server = net.createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    if (!greet) return;
    socket.write('220 fake.test ESMTP\r\n');
    let inData = false;
    let buffer = '';
    socket.on('data', (chunk) => {
      buffer += chunk.toString('latin1');
      for (let idx = buffer.indexOf('\r\n'); idx >= 0; idx = buffer.indexOf('\r\n')) {
        const line = buffer.slice(0, idx);
        buffer = buffer.slice(idx + 2);
        if (inData) {
          if (line === '.') {
            inData = false;
            socket.write('250 2.0.0 queued\r\n');
          }
        } else if (/^DATA$/i.test(line)) {
          inData = true;
          socket.write('354 go on\r\n');
        } else socket.write('250 2.0.0 ok\r\n');
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    open: () => sockets.size,
    accepted: () => accepted,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

test('a callback that throws ends the whole load with its error, and every session closes its connection', async () => {
  const mx = await fakeMx(true);
  try {
    let acked = 0;
    await assert.rejects(
      runLoad({
        port: mx.port,
        sessions: 8,
        perSession: 1_000_000,
        recipientFor: (i) => `u${i}@example.test`,
        onAcked: () => {
          if (++acked === 20) throw new Error('the test gave up');
        },
      }),
      /the test gave up/,
    );
    assert.ok(mx.accepted() >= 8, `every session connected (${mx.accepted()})`);
    await waitFor(
      () => mx.open() === 0,
      () => `every connection closed by the client (${mx.open()} still open)`,
      5_000,
    );
  } finally {
    await mx.close();
  }
});

test('connections that never get a greeting are closed, and the load ends when told to stop', async () => {
  const mx = await fakeMx(false);
  try {
    let stop = false;
    const load = runLoad({
      port: mx.port,
      sessions: 4,
      perSession: 5,
      recipientFor: (i) => `u${i}@example.test`,
      greetingTimeoutMs: 200,
      shouldStop: () => stop,
    });
    // Each session gives up on its silent connection and tries again: wait until some have, then stop.
    await waitFor(
      () => mx.accepted() >= 12,
      () => `greeting-less connections retried (${mx.accepted()} accepted)`,
    );
    stop = true;
    const result = await load;
    assert.equal(result.acked.size, 0);
    await waitFor(
      () => mx.open() === 0,
      () => `every connection closed by the client (${mx.open()} still open)`,
      5_000,
    );
  } finally {
    await mx.close();
  }
});

test('a successful load leaves no connection open', async () => {
  const mx = await fakeMx(true);
  try {
    const result = await runLoad({ port: mx.port, sessions: 5, perSession: 10, recipientFor: (i) => `u${i}@example.test` });
    assert.equal(result.acked.size, 50);
    await waitFor(
      () => mx.open() === 0,
      () => `every connection closed by the client (${mx.open()} still open)`,
      5_000,
    );
  } finally {
    await mx.close();
  }
});

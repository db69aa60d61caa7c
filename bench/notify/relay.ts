// The benchmark's relay: smtp-server on loopback that accepts every message and only counts it (the test sink keeps
// every message in memory, which over 30,000 messages would slow the relay of the later runs by its garbage collection).
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface Relay {
  port: number;
  /** Messages accepted so far. */
  count(): number;
  /** Resolves once `n` messages have been accepted in all. */
  waitFor(n: number, timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

export async function startRelay(): Promise<Relay> {
  let count = 0;
  const waiters: { n: number; resolve: () => void }[] = [];
  const server = new SMTPServer({
    logger: false,
    disabledCommands: ['AUTH', 'STARTTLS'],
    authOptional: true,
    onData(stream, _session, cb) {
      stream.resume();
      stream.on('end', () => {
        count++;
        for (const w of waiters.filter((x) => x.n <= count)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve();
        }
        cb();
      });
    },
  });
  server.on('error', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.server.address() as AddressInfo).port,
    count: () => count,
    waitFor: (n, timeoutMs) =>
      n <= count
        ? Promise.resolve()
        : new Promise<void>((resolve, reject) => {
            const t = setTimeout(() => reject(new Error(`relay: ${count} of ${n} messages`)), timeoutMs);
            waiters.push({
              n,
              resolve: () => {
                clearTimeout(t);
                resolve();
              },
            });
          }),
    // Connections a client left open (a killed run) are cut: this is the end of the benchmark.
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

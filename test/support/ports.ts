// Loopback port helpers shared by the tests that start real processes.
import net from 'node:net';
import type { ChildProcess } from 'node:child_process';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
  });
}

/** Waits until something accepts on the port; gives up early when the process meant to listen has exited. */
export async function waitForPort(port: number, opts: { timeoutMs?: number; child?: ChildProcess; what?: string } = {}): Promise<void> {
  const deadline = Date.now() + (opts.timeoutMs ?? 20_000);
  while (Date.now() < deadline) {
    if (opts.child && opts.child.exitCode !== null) throw new Error(`${opts.what ?? 'the process'} exited ${opts.child.exitCode} before listening on ${port}`);
    if (await isListening(port)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${opts.what ?? 'nothing'} did not listen on ${port}`);
}

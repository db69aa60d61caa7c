// The load generator: TCP_NODELAY sessions sending 4 KiB messages, timing each final 250.
import net from 'node:net';

export interface DriveOptions {
  port: number;
  sessions: number;
  durationMs: number;
  warmupMs: number;
  bodyBytes: number;
  recipients: string[];
}

export interface DriveResult {
  messages: number;
  msgsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

/** Minimal reply reader: resolves whole replies in order; null when the server hung up. */
class Session {
  private buf = '';
  private waiting: ((r: string | null) => void)[] = [];
  private ready: string[] = [];
  private closed = false;
  readonly socket: net.Socket;

  constructor(socket: net.Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => {
      this.buf += d.toString('latin1');
      for (let i = this.buf.indexOf('\r\n'); i >= 0; i = this.buf.indexOf('\r\n')) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 2);
        if (line[3] === '-') continue;
        const w = this.waiting.shift();
        if (w) w(line);
        else this.ready.push(line);
      }
    });
    const end = (): void => {
      this.closed = true;
      for (const w of this.waiting.splice(0)) w(null);
    };
    socket.on('close', end);
    socket.on('error', end);
  }

  read(): Promise<string | null> {
    const r = this.ready.shift();
    if (r !== undefined) return Promise.resolve(r);
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve) => this.waiting.push(resolve));
  }
}

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

  async function session(s: number): Promise<void> {
    const socket = net.connect({ port: opts.port, host: '127.0.0.1' });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const c = new Session(socket);
    await c.read();
    socket.write('EHLO bench.test\r\n');
    await c.read();
    for (let k = 0; performance.now() < stopAt; k++) {
      const rcpt = opts.recipients[(s + k) % opts.recipients.length];
      socket.write(`MAIL FROM:<bench@remote.test>\r\nRCPT TO:<${rcpt}>\r\nDATA\r\n`);
      const r1 = await c.read();
      const r2 = await c.read();
      const r3 = await c.read();
      if (!r1?.startsWith('250') || !r2?.startsWith('250') || !r3?.startsWith('354')) {
        errors++;
        break;
      }
      const t0 = performance.now();
      socket.write(message);
      const r = await c.read();
      const t1 = performance.now();
      if (!r?.startsWith('250')) {
        errors++;
        break;
      }
      if (t1 >= measureFrom && t1 < stopAt) latencies.push(t1 - t0);
    }
    socket.write('QUIT\r\n');
    socket.end();
  }

  await Promise.all(Array.from({ length: opts.sessions }, (_, s) => session(s)));
  latencies.sort((a, b) => a - b);
  const pct = (p: number): number => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] : NaN);
  return { messages: latencies.length, msgsPerSec: latencies.length / (opts.durationMs / 1000), p50Ms: pct(0.5), p99Ms: pct(0.99), errors };
}

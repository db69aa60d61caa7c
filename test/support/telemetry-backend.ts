// A loopback HTTP server that plays the backend's telemetry endpoints for failure-mode tests only: it keeps
// the contract's rule (a cursor C per node; after > C is a 409 with C; events above C are applied once), and
// can be switched down (connection refused), to 500, or to answering late. The real backend is tested elsewhere.
import { EventEmitter, once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { TelemetryBatch, TelemetryHeartbeat, type TelemetryEvent } from '#data/contracts/telemetry.ts';

export type FakeMode = 'ok' | 'error500' | { slowMs: number } | 'hang';

export class FakeTelemetryBackend extends EventEmitter {
  server: Server;
  port = 0;
  mode: FakeMode = 'ok';
  /** The backend's cursor: the highest seq it holds. */
  cursor = 0;
  /** Events applied, in the order they were applied. */
  applied: TelemetryEvent[] = [];
  /** Every batch that reached the handler: its `after` and seqs. */
  batches: { after: number; seqs: number[] }[] = [];
  heartbeats: { received: number; beat: TelemetryHeartbeat }[] = [];
  /** Requests whose client went away before an answer (an aborted POST). */
  aborted = 0;
  private readonly sockets = new Set<Socket>();

  private constructor() {
    super();
    this.server = this.make();
  }

  static async start(): Promise<FakeTelemetryBackend> {
    const b = new FakeTelemetryBackend();
    await b.listen(0);
    return b;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Connection refused from now on (the port is closed). */
  async down(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  /** Back on the same port. */
  async up(): Promise<void> {
    this.server = this.make();
    await this.listen(this.port);
  }

  /** Forget events above `seq`, as a backend restored from an older backup would. */
  rollBackTo(seq: number): void {
    this.cursor = seq;
    this.applied = this.applied.filter((e) => e.seq <= seq);
  }

  async stop(): Promise<void> {
    if (this.server.listening) await this.down();
  }

  private async listen(port: number): Promise<void> {
    this.server.listen(port, '127.0.0.1');
    await once(this.server, 'listening');
    this.port = (this.server.address() as AddressInfo).port;
  }

  private make(): Server {
    const server = createServer((req, res) => void this.handle(req, res));
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    return server;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    // Only the two telemetry endpoints are played (a node's config sync gets a 503 and serves its replica).
    if (req.method !== 'POST' || !req.url?.startsWith('/api/v1/telemetry')) {
      res.writeHead(503).end();
      return;
    }
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
    res.on('close', () => {
      if (!res.writableFinished) {
        this.aborted++;
        this.emit('aborted');
      }
    });
    const send = (status: number, json: unknown): void => {
      if (res.destroyed) return;
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json));
    };
    if (req.url === '/api/v1/telemetry/heartbeat') {
      this.heartbeats.push({ received: Date.now(), beat: TelemetryHeartbeat.parse(body) });
      this.emit('heartbeat');
      return send(204, null);
    }
    if (this.mode === 'hang') {
      this.emit('hanging');
      return;
    }
    if (this.mode === 'error500') return send(500, { detail: 'broken on purpose' });
    const batch = TelemetryBatch.parse(body);
    this.batches.push({ after: batch.after, seqs: batch.events.map((e) => e.seq) });
    let answer: { status: number; json: unknown };
    if (batch.after > this.cursor) answer = { status: 409, json: { cursor: this.cursor, applied: 0 } };
    else {
      const fresh = batch.events.filter((e) => e.seq > this.cursor);
      this.applied.push(...fresh);
      this.cursor = Math.max(this.cursor, batch.events[batch.events.length - 1].seq);
      answer = { status: 200, json: { cursor: this.cursor, applied: fresh.length } };
    }
    this.emit('batch');
    const mode = this.mode;
    if (typeof mode === 'object') await new Promise((r) => setTimeout(r, mode.slowMs));
    send(answer.status, answer.json);
  }
}

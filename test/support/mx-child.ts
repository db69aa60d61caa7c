// Starts and stops the mail system as a child process (test/support/mx-process.ts) by pid.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { killHard, readLines, stopCleanly, type Lines } from './child.ts';
import type { FakeDirectoryData } from './fake-directory.ts';
import type { Zone } from './dns-zone.ts';

const NODE = join(process.cwd(), 'node_modules', '.bin', 'node');
const ENTRY = join(process.cwd(), 'test', 'support', 'mx-process.ts');
/** How long exiting may take after the drain deadline (closing the database, the process's own exit). */
const EXIT_MARGIN_MS = 5000;

export interface MxChildExtras {
  /** Offer STARTTLS with a self-signed certificate made in the state dir. */
  tls?: boolean;
  /** Run with --expose-gc and answer stats() (SIGUSR2) with sessions, connections and heap. */
  stats?: boolean;
  /** Serve forward routes: MX lookups answered from this zone, every MX host on this loopback port. */
  forward?: { zone: Zone; port: number };
}

/** The child's own view of its ingress, read after a full GC. */
export interface MxProcessStats {
  /** Entries in the ingress's session map (MxSmtpServer.bySession). */
  sessions: number;
  /** smtp-server's own set of open connections. */
  connections: number;
  heapUsed: number;
}

export class MxChild {
  proc: ChildProcess | null = null;
  /** The port the child reported in its READY line (port 0 in the constructor: any free port). */
  port = 0;
  private readonly configFile: string;
  private readonly stats: boolean;
  private readonly drainMs: number;
  private lines: Lines | null = null;

  /**
   * port 0: the child binds any free port (read `port` after start()). A child that must come back on the
   * same port after a kill gets a reserved one (ports.ts reservePort).
   */
  constructor(stateDir: string, port: number, directory: FakeDirectoryData, shutdownDeadlineMs = 2000, extras: MxChildExtras = {}) {
    this.configFile = join(stateDir, 'mx-process.json');
    this.port = port;
    this.stats = !!extras.stats;
    this.drainMs = shutdownDeadlineMs + EXIT_MARGIN_MS;
    writeFileSync(this.configFile, JSON.stringify({ stateDir, port, directory, shutdownDeadlineMs, ...extras }));
  }

  /** Spawns the process and resolves once it listens (its READY line names the port). */
  async start(): Promise<void> {
    const proc = spawn(NODE, [...(this.stats ? ['--expose-gc'] : []), ENTRY, this.configFile], { stdio: ['ignore', 'pipe', 'inherit'] });
    this.proc = proc;
    this.lines = readLines(proc, proc.stdout!);
    try {
      this.port = await this.lines.next((line) => /^READY (\d+)$/.exec(line)?.[1], 'READY from the mx process').then(Number);
    } catch (err) {
      await killHard(proc); // a child that never got ready must not keep the test process alive
      throw err;
    }
  }

  /** Asks the child (started with `stats`) for its session map size, connection set size and heap. */
  readStats(): Promise<MxProcessStats> {
    const proc = this.proc;
    if (!proc || !this.lines || !this.stats) return Promise.reject(new Error('the child was not started with stats'));
    const stats = this.lines.next(
      (line) => (line.startsWith('STATS ') ? (JSON.parse(line.slice(6)) as MxProcessStats) : undefined),
      'STATS from the mx process',
    );
    process.kill(proc.pid!, 'SIGUSR2');
    return stats;
  }

  /** SIGTERM: the drain must end in exit code 0 within the drain deadline (plus the exit itself), else this throws. */
  async stop(): Promise<void> {
    if (this.proc) await stopCleanly(this.proc, 'the mx process', this.drainMs);
  }

  /** A deliberate crash: SIGKILL, resolved once the process is gone. */
  async kill(): Promise<void> {
    if (this.proc) await killHard(this.proc);
  }
}

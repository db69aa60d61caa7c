// Starts and stops the mail system as a child process (test/support/mx-process.ts) by pid.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FakeDirectoryData } from './fake-directory.ts';
import type { Zone } from './dns-zone.ts';

const NODE = join(process.cwd(), 'node_modules', '.bin', 'node');
const ENTRY = join(process.cwd(), 'test', 'support', 'mx-process.ts');

import { freePort } from './ports.ts';
export { freePort };

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
  private lines: ((line: string) => void)[] = [];

  constructor(stateDir: string, port: number, directory: FakeDirectoryData, shutdownDeadlineMs = 2000, extras: MxChildExtras = {}) {
    this.configFile = join(stateDir, 'mx-process.json');
    this.port = port;
    this.stats = !!extras.stats;
    writeFileSync(this.configFile, JSON.stringify({ stateDir, port, directory, shutdownDeadlineMs, ...extras }));
  }

  /** Spawns the process and resolves once it listens. */
  start(): Promise<void> {
    const proc = spawn(NODE, [...(this.stats ? ['--expose-gc'] : []), ENTRY, this.configFile], { stdio: ['ignore', 'pipe', 'inherit'] });
    this.proc = proc;
    return new Promise((resolve, reject) => {
      let out = '';
      proc.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        let nl: number;
        while ((nl = out.indexOf('\n')) >= 0) {
          const line = out.slice(0, nl);
          out = out.slice(nl + 1);
          const ready = /^READY (\d+)$/.exec(line);
          if (ready) {
            this.port = Number(ready[1]);
            resolve();
          }
          for (const w of this.lines.splice(0)) w(line);
        }
      });
      proc.once('exit', (code, signal) => reject(new Error(`mx process exited before READY (${code ?? signal})`)));
    });
  }

  /** Asks the child (started with `stats`) for its session map size, connection set size and heap. */
  readStats(): Promise<MxProcessStats> {
    const proc = this.proc;
    if (!proc || !this.stats) return Promise.reject(new Error('the child was not started with stats'));
    return new Promise((resolve, reject) => {
      const onExit = (): void => reject(new Error('mx process exited before reporting stats'));
      proc.once('exit', onExit);
      const wait = (line: string): void => {
        if (!line.startsWith('STATS ')) {
          this.lines.push(wait);
          return;
        }
        proc.off('exit', onExit);
        resolve(JSON.parse(line.slice(6)) as MxProcessStats);
      };
      this.lines.push(wait);
      process.kill(proc.pid!, 'SIGUSR2');
    });
  }

  /** Resolves with the exit code, or the signal's name when the process died of a signal. */
  stop(signal: NodeJS.Signals): Promise<number | string | null> {
    const proc = this.proc;
    if (!proc) return Promise.resolve(null);
    if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve(`already exited: ${proc.exitCode ?? proc.signalCode}`);
    return new Promise((resolve) => {
      proc.once('exit', (code, sig) => resolve(code ?? sig));
      process.kill(proc.pid!, signal);
    });
  }
}

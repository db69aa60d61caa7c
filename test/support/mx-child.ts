// Starts and stops the mail system as a child process (test/support/mx-process.ts) by pid.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FakeDirectoryData } from './fake-directory.ts';

const NODE = join(process.cwd(), 'node_modules', '.bin', 'node');
const ENTRY = join(process.cwd(), 'test', 'support', 'mx-process.ts');

import { freePort } from './ports.ts';
export { freePort };

export class MxChild {
  proc: ChildProcess | null = null;
  private readonly configFile: string;

  constructor(stateDir: string, port: number, directory: FakeDirectoryData, shutdownDeadlineMs = 2000) {
    this.configFile = join(stateDir, 'mx-process.json');
    writeFileSync(this.configFile, JSON.stringify({ stateDir, port, directory, shutdownDeadlineMs }));
  }

  /** Spawns the process and resolves once it listens. */
  start(): Promise<void> {
    const proc = spawn(NODE, [ENTRY, this.configFile], { stdio: ['ignore', 'pipe', 'inherit'] });
    this.proc = proc;
    return new Promise((resolve, reject) => {
      let out = '';
      proc.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('READY')) resolve();
      });
      proc.once('exit', (code, signal) => reject(new Error(`mx process exited before READY (${code ?? signal})`)));
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

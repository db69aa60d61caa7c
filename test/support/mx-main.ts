// Runs the product entry, mailsystem/main.ts, as a real process on a state folder whose node replica is prepared.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, MIGRATIONS } from '#data/db.ts';
import type { ConfigChange } from '#data/contracts/mx-config.ts';
import { applyConfigChanges } from '#mailsystem/config/apply.ts';

const ROOT = join(import.meta.dirname, '..', '..');

export interface MainNode {
  child: ChildProcess;
  /** The SMTP port the node reported (it binds port 0). */
  port: number;
  dir: string;
  stderr(): string;
  /** SIGTERM, wait for the exit, remove the state folder; resolves with the exit code. */
  stop(): Promise<number | null>;
}

/**
 * Starts the node without a backend, serving the replica the changes describe, with extra TIDINGS_*
 * settings; resolves once its log says the ingress listens (and on which port).
 */
export async function startMainNode(changes: ConfigChange[], env: Record<string, string>): Promise<MainNode> {
  const dir = mkdtempSync(join(tmpdir(), 'tidings-main-'));
  const db = openDatabase(join(dir, 'mx', 'node.sqlite'), { migrationsDir: MIGRATIONS.node, synchronous: 'FULL' });
  const version = changes.reduce((v, c) => Math.max(v, c.version), 0);
  applyConfigChanges(db, { since: 0, version, more: false, reset: false, changes }, new Date());
  db.close();
  const childEnv: NodeJS.ProcessEnv = {
    ...process.env, TIDINGS_STATE_DIR: dir, TIDINGS_SMTP_PORT: '0', TIDINGS_SMTP_HOST: '127.0.0.1', TIDINGS_MX_HOSTNAME: 'mx.tidings.test',
    TIDINGS_LOG_LEVEL: 'info', ...env,
  };
  delete childEnv.TIDINGS_MX_BACKEND_URL;
  delete childEnv.TIDINGS_MX_TOKEN;
  const child = spawn(process.execPath, ['mailsystem/main.ts'], { cwd: ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c) => { stderr += c; });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      let nl: number;
      while ((nl = out.indexOf('\n')) >= 0) {
        const line = out.slice(0, nl);
        out = out.slice(nl + 1);
        try {
          const entry = JSON.parse(line) as { msg?: string; port?: number };
          if (entry.msg === 'smtp ingress listening' && entry.port) resolve(entry.port);
        } catch { /* not a log line */ }
      }
    });
    void exited.then((code) => reject(new Error(`mailsystem/main.ts exited ${code} before listening: ${stderr}`)));
  });
  return {
    child, port, dir,
    stderr: () => stderr,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const code = await exited;
      rmSync(dir, { recursive: true, force: true });
      return code;
    },
  };
}

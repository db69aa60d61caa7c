// All-in-one mode: runs the MX node as a supervised child process, so `npm start` is the whole system
// while the mail system stays its own process (it never imports server/, and SIGKILL of one spares the other).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from '#data/config.ts';
import type { Clock, Log } from './deps.ts';
import type { ServiceContext } from './services/context.ts';
import { hashNodeToken, issueNodeToken } from './services/mail/issueNodeToken.ts';
import { findNodeByTokenHash } from './store/mail.ts';

const NODE_NAME = 'all-in-one';
const MX_ENTRY = fileURLToPath(new URL('../mailsystem/main.ts', import.meta.url));

/** Reuses the token kept in the state folder while the backend still knows it; otherwise issues one. */
export function embeddedNodeToken(ctx: ServiceContext, stateDir: string): string {
  const file = join(stateDir, 'mx', 'all-in-one.token');
  if (existsSync(file)) {
    const kept = readFileSync(file, 'utf8').trim();
    if (kept && findNodeByTokenHash(ctx.db, hashNodeToken(kept))) return kept;
  }
  const token = issueNodeToken({ ctx, actor: { userId: null, name: 'system' }, name: NODE_NAME });
  mkdirSync(join(stateDir, 'mx'), { recursive: true });
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return token;
}

export interface EmbeddedMx {
  stop(): Promise<void>;
}

/** Starts the MX child and restarts it (with a growing pause) if it dies; stop() drains it with SIGTERM. */
export function startEmbeddedMx(opts: { config: Config; token: string; backendUrl: string; log: Log; clock: Clock }): EmbeddedMx {
  let child: ChildProcess | null = null;
  let stopping = false;
  let failures = 0;
  let restartTimer: NodeJS.Timeout | null = null;

  const launch = (): void => {
    const started = opts.clock().getTime();
    // The IPC channel carries one message: the port the node bound (TIDINGS_SMTP_PORT may be 0).
    const c = spawn(process.execPath, [MX_ENTRY], {
      stdio: ['pipe', 'inherit', 'inherit', 'ipc'],
      env: {
        ...process.env,
        TIDINGS_STATE_DIR: opts.config.stateDir,
        TIDINGS_MX_BACKEND_URL: opts.backendUrl,
        TIDINGS_MX_TOKEN: opts.token,
        TIDINGS_MX_EXIT_WITH_PARENT: '1',
      },
    });
    child = c;
    c.on('message', (m: { type?: string; port?: number }) => {
      if (m.type === 'listening')
        opts.log.info({ smtpPort: m.port, pid: c.pid }, `tidings: mail system on smtp://${opts.config.smtpHost}:${m.port}`);
    });
    c.on('exit', (code, signal) => {
      child = null;
      if (stopping) return;
      failures = opts.clock().getTime() - started > 60_000 ? 1 : failures + 1;
      const pause = Math.min(30_000, 500 * 2 ** failures);
      opts.log.error({ code, signal, restartInMs: pause }, 'mailsystem exited; restarting');
      restartTimer = setTimeout(launch, pause);
    });
  };
  launch();

  return {
    stop: () =>
      new Promise<void>((resolve) => {
        stopping = true;
        if (restartTimer) clearTimeout(restartTimer);
        const c = child;
        if (!c || c.exitCode !== null) {
          resolve();
          return;
        }
        c.once('exit', () => resolve());
        c.kill('SIGTERM');
      }),
  };
}

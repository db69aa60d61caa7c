// All-in-one mode: runs the MX node as a supervised child process, so `npm start` is the whole system
// while the mail system stays its own process (it never imports server/, and SIGKILL of one spares the other).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getSystemErrorName } from 'node:util';
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
  /**
   * Rolling restart (SIGHUP to the backend, server/main.ts): starts a new MX process on the same listening socket and,
   * once it accepts, drains the old one with SIGTERM (its sessions finish there). Resolves when the old one has exited;
   * if the new one fails to start, the old one keeps running. A call during a restart joins it.
   */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

type ServerHandle = object & { close(): void; getsockname(out: { port?: number }): number };

/**
 * Binds the SMTP socket in this process, which never accepts on it: each MX child listens on it (sent over the IPC
 * channel), so it stays open across the children's restarts. Connections that arrive while one child drains and the
 * next starts wait in its accept queue instead of being refused or reset, as they would be when a SO_REUSEPORT socket
 * closes. net._createServerHandle is how Node's own cluster module binds a socket for its workers.
 */
export function bindSmtpSocket(host: string, port: number): ServerHandle {
  const create = (net as unknown as { _createServerHandle: (a: string, p: number, t: 4 | 6) => ServerHandle | number })._createServerHandle;
  const address = host === 'localhost' ? '127.0.0.1' : host;
  const handle = create(address, port, net.isIPv6(address) ? 6 : 4);
  if (typeof handle === 'number') throw Object.assign(new Error(`cannot bind ${host}:${port}`), { code: getSystemErrorName(handle) });
  // libuv keeps EADDRINUSE from bind(2) for listen(2), which the child does: the socket is left unbound, and listening
  // there would take any free port. An unbound socket, or another port than asked for, is that error.
  const bound: { port?: number } = {};
  handle.getsockname(bound);
  if (!bound.port || (port !== 0 && bound.port !== port)) {
    handle.close();
    throw Object.assign(new Error(`cannot bind ${host}:${port}`), { code: 'EADDRINUSE' });
  }
  return handle;
}

/** Starts the MX child and restarts it (with a growing pause) if it dies; stop() drains it with SIGTERM. */
export function startEmbeddedMx(opts: { config: Config; token: string; backendUrl: string; log: Log; clock: Clock }): EmbeddedMx {
  const socket = bindSmtpSocket(opts.config.smtpHost, opts.config.smtpPort);
  /** The child that serves; during a restart the old one until the new one listens. */
  let current: ChildProcess | null = null;
  const live = new Set<ChildProcess>();
  let stopping = false;
  let restarting: Promise<void> | null = null;
  let failures = 0;
  let restartTimer: NodeJS.Timeout | null = null;

  /** Spawns an MX child; `listening` resolves once it accepts on the socket, and rejects if it exits first. */
  const launch = (): { child: ChildProcess; listening: Promise<void> } => {
    const started = opts.clock().getTime();
    // The IPC channel carries the listening socket to the child and the port it listens on (TIDINGS_SMTP_PORT may be 0) back.
    const c = spawn(process.execPath, [MX_ENTRY], {
      stdio: ['pipe', 'inherit', 'inherit', 'ipc'],
      env: {
        ...process.env,
        TIDINGS_STATE_DIR: opts.config.stateDir,
        TIDINGS_MX_BACKEND_URL: opts.backendUrl,
        TIDINGS_MX_TOKEN: opts.token,
        TIDINGS_MX_EXIT_WITH_PARENT: '1',
        TIDINGS_MX_SMTP_SOCKET: 'parent',
      },
    });
    live.add(c);
    const listening = new Promise<void>((resolve, reject) => {
      c.on('message', (m: { type?: string; port?: number }) => {
        if (m.type === 'smtp-socket?')
          c.send({ type: 'smtp-socket' }, socket as unknown as net.Server, (err) => {
            if (err) opts.log.warn({ err: err.message, pid: c.pid }, 'mailsystem: could not hand over the SMTP socket');
          });
        if (m.type !== 'listening') return;
        opts.log.info({ smtpPort: m.port, pid: c.pid }, `tidings: mail system on smtp://${opts.config.smtpHost}:${m.port}`);
        resolve();
      });
      c.once('exit', (code, signal) => reject(new Error(`the new mailsystem exited (${code ?? signal}) before it listened`)));
    });
    listening.catch(() => {});
    c.on('exit', (code, signal) => {
      live.delete(c);
      if (stopping) return;
      if (c !== current) return void opts.log.info({ pid: c.pid, code, signal }, 'mailsystem: previous process exited');
      current = null;
      if (restarting) return; // the restart's new child takes over (or relaunch() does, when it failed)
      failures = opts.clock().getTime() - started > 60_000 ? 1 : failures + 1;
      const pause = Math.min(30_000, 500 * 2 ** failures);
      opts.log.error({ code, signal, restartInMs: pause }, 'mailsystem exited; restarting');
      restartTimer = setTimeout(relaunch, pause);
    });
    return { child: c, listening };
  };
  const relaunch = (): void => {
    restartTimer = null;
    if (!stopping) current = launch().child;
  };
  relaunch();

  const restart = async (): Promise<void> => {
    const old = current;
    const next = launch();
    try {
      await next.listening;
    } catch (err) {
      opts.log.error({ err: (err as Error).message }, 'mailsystem: restart failed, the running process keeps serving');
      if (!current && !restartTimer) relaunch();
      return;
    }
    if (stopping) return;
    current = next.child;
    if (old && old.exitCode === null && old.signalCode === null) {
      const exited = new Promise((resolve) => old.once('exit', resolve));
      old.kill('SIGTERM');
      await exited;
    }
    opts.log.info({ pid: next.child.pid, previousPid: old?.pid ?? null }, 'mailsystem: restarted');
  };

  return {
    restart() {
      if (stopping) return Promise.resolve();
      if (restartTimer) clearTimeout(restartTimer);
      restartTimer = null;
      restarting ??= restart().finally(() => {
        restarting = null;
      });
      return restarting;
    },
    async stop() {
      stopping = true;
      if (restartTimer) clearTimeout(restartTimer);
      await Promise.all(
        [...live].map((c) => {
          const exited = new Promise((resolve) => c.once('exit', resolve));
          c.kill('SIGTERM');
          return exited;
        }),
      );
      socket.close();
    },
  };
}

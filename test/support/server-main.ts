// Runs `npm start`'s entry, server/main.ts, as a real process on ports it binds itself (port 0), read back
// from its log: the HTTP listener, and in all-in-one mode the supervised MX node's SMTP port and pid.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { REPO_ROOT } from '#server/site/build.ts';
import { killHard, logEntry, readLines, stopCleanly, type Lines } from './child.ts';

/** The backend waits for its MX node's drain (2 s deadline by default) before it exits. */
const BACKEND_DRAIN_MS = 20_000;
/** Start-up may include an `astro build` when another process has not made one yet. */
const START_TIMEOUT_MS = 180_000;

export interface ServerMain {
  child: ChildProcess;
  port: number;
  url: string;
  lines: Lines;
  /** Every line written so far (stdout and stderr). */
  output(): string;
  /** all-in-one: resolves with the MX node's bound SMTP port and pid once the backend reports it. */
  mx(): Promise<{ port: number; pid: number }>;
  /** SIGTERM; exit code 0 within the drain, or this throws. */
  stop(): Promise<void>;
}

/**
 * env: extra TIDINGS_* settings (TIDINGS_STATE_DIR at least). Defaults: loopback, port 0 for HTTP and SMTP.
 */
export async function startServerMain(env: Record<string, string | undefined>): Promise<ServerMain> {
  const child = spawn(process.execPath, ['server/main.ts'], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    // Log level info whatever the caller says: the lines read here are info lines.
    env: {
      ...process.env,
      TIDINGS_HTTP_HOST: '127.0.0.1',
      TIDINGS_HTTP_PORT: '0',
      TIDINGS_SMTP_HOST: '127.0.0.1',
      TIDINGS_SMTP_PORT: '0',
      // The embedded MX without rspamd and clamd would answer every message 451 4.7.1 (see test/support/mx-main.ts).
      TIDINGS_SCAN: 'off',
      ...env,
      TIDINGS_LOG_LEVEL: 'info',
    },
  });
  const lines = readLines(child, child.stdout!, child.stderr!);
  const url = await lines
    .next(
      (line) => /tidings: (http:\/\/127\.0\.0\.1:\d+)\//.exec(String(logEntry(line)?.msg ?? ''))?.[1],
      'the HTTP listening line',
      START_TIMEOUT_MS,
    )
    .catch(async (err: unknown) => {
      await killHard(child); // a server that never listened must not keep the test process alive
      throw err;
    });
  let mx: Promise<{ port: number; pid: number }> | undefined;
  return {
    child,
    url,
    lines,
    port: Number(new URL(url).port),
    output: lines.text,
    mx() {
      mx ??= lines.next(
        (line) => {
          const entry = logEntry(line);
          return typeof entry?.smtpPort === 'number' && typeof entry.pid === 'number'
            ? { port: entry.smtpPort, pid: entry.pid }
            : undefined;
        },
        "the MX node's listening line",
        60_000,
      );
      return mx;
    },
    stop: () => stopCleanly(child, 'server/main.ts', BACKEND_DRAIN_MS, { output: lines.text }),
  };
}

/**
 * Runs the operator CLI's `mail` command (server/cli.ts mail ...) as its own process over the backend store in
 * stateDir, as an operator prepares a backend before starting it; resolves with what it printed, rejects with
 * its stderr when it fails.
 */
export function mailCli(stateDir: string, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['server/cli.ts', 'mail', ...args],
      { cwd: REPO_ROOT, env: { ...process.env, TIDINGS_STATE_DIR: stateDir }, timeout: 60_000 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`cli mail ${args.join(' ')}: ${stderr}`));
        else resolve(stdout);
      },
    );
  });
}

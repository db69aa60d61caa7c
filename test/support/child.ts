// Child processes in tests: read their output line by line (READY lines, JSON log lines that name a bound
// port), and stop them the way operators do, asserting a clean exit instead of falling back to SIGKILL.
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Resolves when the process has exited (at once if it already has). */
export function exitOf(child: ChildProcess): Promise<Exit> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

/**
 * Whether a process (not necessarily ours) still runs. An exited process nobody has reaped yet (a zombie,
 * e.g. an orphan whose new parent does not reap) counts as gone: it can no longer do anything.
 */
export function pidAlive(pid: number): boolean {
  try {
    // /proc/<pid>/stat: "pid (comm) S ...", the state right after the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

const running = (child: ChildProcess): boolean => child.exitCode === null && child.signalCode === null;

/**
 * SIGTERM (or `signal`), then exit code 0 within drainMs, or this throws: a process that needs a kill to go
 * away is a bug the test must show (a leaked session kept a drain waiting). It is killed then, so nothing
 * lingers after the failure.
 */
export async function stopCleanly(
  child: ChildProcess,
  what: string,
  drainMs: number,
  opts: { signal?: NodeJS.Signals; output?: () => string } = {},
): Promise<void> {
  if (!running(child)) {
    const exit = await exitOf(child);
    if (exit.code !== 0) throw new Error(`${what} had already exited (${exit.code ?? exit.signal}) before its stop${detail(opts.output)}`);
    return;
  }
  const exited = exitOf(child);
  child.kill(opts.signal ?? 'SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), drainMs);
  });
  const exit = await Promise.race([exited, late]);
  clearTimeout(timer);
  if (exit === null) {
    child.kill('SIGKILL');
    await exited;
    throw new Error(`${what} did not exit within ${drainMs} ms of ${opts.signal ?? 'SIGTERM'} (killed)${detail(opts.output)}`);
  }
  if (exit.code !== 0)
    throw new Error(`${what} exited ${exit.code ?? exit.signal} after ${opts.signal ?? 'SIGTERM'}, not 0${detail(opts.output)}`);
}

/** A deliberate SIGKILL (crash tests, cleanup after a failure): resolves once the process is gone. */
export async function killHard(child: ChildProcess): Promise<void> {
  if (!running(child)) return;
  const exited = exitOf(child);
  child.kill('SIGKILL');
  await exited;
}

function detail(output?: () => string): string {
  const text = output?.().trim();
  return text ? `:\n${text.slice(-4000)}` : '';
}

export interface Lines {
  /** Everything read so far, for failure messages. */
  text(): string;
  /**
   * The next line after the last one an earlier call matched (including lines already read) for which
   * match() returns a value. Rejects when the output ends first, or after timeoutMs.
   */
  next<T>(match: (line: string) => T | undefined, what: string, timeoutMs?: number): Promise<T>;
}

/** Collects a child's output lines; `stream` is its stdout or stderr (piped). */
export function readLines(child: ChildProcess, stream: Readable, also?: Readable): Lines {
  const lines: string[] = [];
  let text = '';
  let cursor = 0;
  let partial = '';
  const wakers = new Set<() => void>();
  const onData = (chunk: Buffer): void => {
    text += chunk.toString();
    partial += chunk.toString();
    for (let nl = partial.indexOf('\n'); nl >= 0; nl = partial.indexOf('\n')) {
      lines.push(partial.slice(0, nl));
      partial = partial.slice(nl + 1);
    }
    for (const w of wakers) w();
  };
  stream.on('data', onData);
  // The other stream only feeds the failure text (e.g. stderr next to a stdout log).
  also?.on('data', (chunk: Buffer) => {
    text += chunk.toString();
  });
  // The end of the stream, not the exit: output still buffered at the exit is read first. (A grandchild
  // that shares the stream keeps it open; the timeout covers that case.)
  let ended = false;
  stream.once('close', () => {
    ended = true;
    for (const w of wakers) w();
  });
  return {
    text: () => text,
    next<T>(match: (line: string) => T | undefined, what: string, timeoutMs = 60_000): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => finish(new Error(`no ${what} within ${timeoutMs} ms${detail(() => text)}`)), timeoutMs);
        const finish = (err: Error | null, value?: T): void => {
          clearTimeout(timer);
          wakers.delete(look);
          if (err) reject(err);
          else resolve(value as T);
        };
        const look = (): void => {
          for (; cursor < lines.length; cursor++) {
            const value = match(lines[cursor]);
            if (value !== undefined) {
              cursor++;
              return finish(null, value);
            }
          }
          if (ended)
            finish(
              new Error(`the process ended its output (exit ${child.exitCode ?? child.signalCode}) before ${what}${detail(() => text)}`),
            );
        };
        wakers.add(look);
        look();
      });
    },
  };
}

/** A pino JSON log line as an object (undefined for anything else). */
export function logEntry(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

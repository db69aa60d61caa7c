// Builds the Astro site when its output is missing or older than its sources, so `npm start` needs no second command.
import { spawn } from 'node:child_process';
import { existsSync, linkSync, mkdirSync, readdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { systemClock, type Clock, type Log } from '../deps.ts';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SITE_OUT = join(REPO_ROOT, 'dist', 'site');
const STAMP = '.built-at';

/** Everything the build reads besides node_modules: pages, components, config and the shared contracts. */
const SOURCES = ['site', 'astro.config.mjs', join('data', 'contracts'), 'package-lock.json'];

function newestMtime(path: string): number {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const name of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, name)));
  return newest;
}

export function siteBuildIsStale(root = REPO_ROOT, outDir = SITE_OUT): boolean {
  const stamp = join(outDir, STAMP);
  if (!existsSync(stamp) || !existsSync(join(outDir, 'server', 'entry.mjs'))) return true;
  const built = statSync(stamp).mtimeMs;
  return SOURCES.some((s) => newestMtime(join(root, s)) > built);
}

export interface BuildOptions {
  clock?: Clock;
  root?: string;
  outDir?: string;
  lockPollMs?: number;
}

// Two `astro build` runs into one output folder corrupt each other (a page whose stylesheet the other run
// removed), and every process that serves the site (each test file, a second `npm start`) calls
// ensureSiteBuilt. So one process builds, under a lock file beside the output, and the others wait for it
// and then find the build fresh. The lock names its holder (pid and the process's start time, so a reused
// pid is not taken for the holder); a holder that is gone left a stale lock, which one process takes over.

/** "pid:start" of a process: its start time (in clock ticks since boot, from /proc) tells a reused pid apart. */
function processTag(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[0] === 'Z' ? '' : `${pid}:${fields[19]}`;
  } catch {
    return existsSync('/proc/self/stat') ? '' : `${pid}:`; // no /proc (not Linux): the pid alone
  }
}

function holderAlive(tag: string): boolean {
  const pid = Number(tag.split(':')[0]);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (!existsSync('/proc/self/stat')) {
    try {
      process.kill(pid, 0);
      return true;
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === 'EPERM';
    }
  }
  return processTag(pid) === tag;
}

/** Creates the lock holding our tag (link(2): it never exists without one), or takes over a stale one. */
function tryLock(lock: string): { ok: true } | { ok: false; holder: string } {
  const draft = `${lock}.${process.pid}.${Math.random().toString(36).slice(2)}`;
  writeFileSync(draft, processTag(process.pid));
  try {
    linkSync(draft, lock);
    return { ok: true };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    let holder = '';
    try {
      holder = readFileSync(lock, 'utf8');
    } catch {
      return { ok: false, holder: 'released just now' };
    }
    if (holderAlive(holder)) return { ok: false, holder };
    // Stale. Of the processes that found this holder's lock, the one that creates the marker removes it.
    try {
      writeFileSync(`${lock}.takeover-${holder.replace(/\W/g, '_')}`, processTag(process.pid), { flag: 'wx' });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return { ok: false, holder: `${holder} (being taken over)` };
      throw e;
    }
    try {
      unlinkSync(lock);
    } catch {
      /* gone already */
    }
    return tryLock(lock);
  } finally {
    unlinkSync(draft);
  }
}

/** Waits until this process holds the build lock; resolves with its release. */
async function buildLock(outDir: string, log: Pick<Log, 'info'>, pollMs: number): Promise<() => void> {
  mkdirSync(dirname(outDir), { recursive: true });
  const lock = join(dirname(outDir), `.${basename(outDir)}.build-lock`);
  let told = '';
  for (;;) {
    const got = tryLock(lock);
    if (got.ok) {
      const release = (): void => {
        process.off('exit', release);
        try {
          unlinkSync(lock);
        } catch {
          /* gone already */
        }
      };
      process.on('exit', release);
      return release;
    }
    if (told !== got.holder) log.info(`site: waiting for the build of another process (${got.holder})`);
    told = got.holder;
    // No event crosses processes here: look again shortly (a build takes tens of seconds).
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/**
 * Runs `astro build` in a child process (Vite stays out of the server's heap) and stamps the output; while
 * another process builds, waits for it instead. Resolves true when this call built.
 */
export async function ensureSiteBuilt(log: Pick<Log, 'info'>, o: BuildOptions = {}): Promise<boolean> {
  const { clock = systemClock, root = REPO_ROOT, outDir = SITE_OUT, lockPollMs = 200 } = o;
  if (!siteBuildIsStale(root, outDir)) return false;
  const release = await buildLock(outDir, log, lockPollMs);
  try {
    // Another process may have built while this one waited.
    if (!siteBuildIsStale(root, outDir)) return false;
    await build(log, clock, root, outDir);
    return true;
  } finally {
    release();
  }
}

async function build(log: Pick<Log, 'info'>, clock: Clock, root: string, outDir: string): Promise<void> {
  log.info('site: building (output missing or older than its sources)');
  const started = clock().getTime();
  const astroBin = join(root, 'node_modules', 'astro', 'bin', 'astro.mjs');
  const output: Buffer[] = [];
  const code = await new Promise<number>((resolve, reject) => {
    const child = spawn(process.execPath, [astroBin, 'build'], {
      cwd: root,
      env: { ...process.env, ASTRO_TELEMETRY_DISABLED: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.on('data', (b: Buffer) => output.push(b));
    child.stderr.on('data', (b: Buffer) => output.push(b));
    child.on('error', reject);
    child.on('close', (c) => resolve(c ?? 1));
  });
  if (code !== 0) throw new Error(`astro build failed (exit ${code}):\n${Buffer.concat(output).toString('utf8').slice(-4000)}`);
  const finished = clock();
  writeFileSync(join(outDir, STAMP), finished.toISOString());
  log.info(`site: built in ${finished.getTime() - started} ms`);
}

// Builds the Astro site when its output is missing or older than its sources, so `npm start` needs no second command.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
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

export interface BuildOptions { clock?: Clock; root?: string; outDir?: string }

/** Runs `astro build` in a child process (Vite stays out of the server's heap) and stamps the output. */
export async function ensureSiteBuilt(log: Pick<Log, 'info'>, o: BuildOptions = {}): Promise<boolean> {
  const { clock = systemClock, root = REPO_ROOT, outDir = SITE_OUT } = o;
  if (!siteBuildIsStale(root, outDir)) return false;
  log.info('site: building (output missing or older than its sources)');
  const started = clock().getTime();
  const astroBin = join(root, 'node_modules', 'astro', 'bin', 'astro.mjs');
  const output: Buffer[] = [];
  const code = await new Promise<number>((resolve, reject) => {
    const child = spawn(process.execPath, [astroBin, 'build'], {
      cwd: root, env: { ...process.env, ASTRO_TELEMETRY_DISABLED: '1' }, stdio: ['ignore', 'pipe', 'pipe'],
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
  return true;
}

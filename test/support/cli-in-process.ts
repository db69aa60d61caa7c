// Runs the operator CLI in this process over a given store, capturing what it prints.
import { PassThrough, Readable } from 'node:stream';
import { runCli } from '#server/cli/run.ts';
import type { CliContext } from '#server/cli/context.ts';
import { loadConfig } from '#data/config.ts';
import { openBackendStore } from '#server/store/open.ts';

export async function runCliInProcess(
  ctx: Pick<CliContext, 'db' | 'config' | 'clock'>,
  argv: string[],
  stdin = '',
): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d) => {
    out += d;
  });
  stderr.on('data', (d) => {
    err += d;
  });
  const code = await runCli(argv, { ...ctx, stdin: Readable.from([stdin]), stdout, stderr });
  return { code, stdout: out, stderr: err };
}

/** `cli mail ...` over a fresh in-memory backend store whose clock stands still at `at`. */
export function mailCliInProcess(at = '2026-11-30T12:00:00.000Z') {
  const clock = () => new Date(at);
  const db = openBackendStore(':memory:', clock);
  const config = loadConfig({ TIDINGS_STATE_DIR: '/nonexistent' }, '/');
  const run = (...argv: string[]) => runCliInProcess({ db, config, clock }, ['mail', ...argv]);
  return { db, clock, run };
}

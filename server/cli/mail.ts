// `cli mail ...`: placeholder until the mail system's commands land (the mail engineer replaces this file).
import type { CliContext } from './context.ts';

export async function mailCommand(_argv: string[], ctx: CliContext): Promise<number> {
  ctx.stderr.write('mail commands: not available yet\n');
  return 2;
}

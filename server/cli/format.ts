// What the CLI's commands share for input and output: a contract check with the CLI's wording, and an aligned table.
import type { z } from 'zod';
import type { CliContext } from './context.ts';
import { Invalid } from '../domain/errors.ts';

/** The value as the schema reads it, or Invalid naming each bad field. */
export function parse<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw new Invalid(r.error.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`).join('; '));
  return r.data;
}

/** Writes the rows under the header, columns padded to their widest cell (the last column unpadded). */
export function table(ctx: CliContext, header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  ctx.stdout.write(`${line(header)}\n`);
  for (const r of rows) ctx.stdout.write(`${line(r)}\n`);
}

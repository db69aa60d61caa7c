// How the CLI reports a refused command: the service's own message (no HTTP status), and an exit code by kind of refusal.
import type { Writable } from 'node:stream';
import { DomainError, Invalid } from '../domain/errors.ts';

/** Writes the refusal and returns the exit code (2 for invalid input, 1 for any other refusal); anything else is rethrown. */
export function reportRefusal(stderr: Writable, e: unknown): number {
  if (!(e instanceof DomainError)) throw e;
  const fields = e.errors.length ? ` (${e.errors.map((f) => `${f.field}: ${f.message}`).join('; ')})` : '';
  stderr.write(`error: ${e.message}${fields}\n`);
  return e instanceof Invalid ? 2 : 1;
}

// Edge validation: turns ids, query strings and JSON bodies into typed input, or a 400 problem naming each field.
import type { Context } from 'hono';
import type { z } from 'zod';
import { Problem, badRequest, notFound, type FieldError } from './problem.ts';

/** The largest id a path accepts (SQLite would go further; the API, the contracts and the forms stop at 2^31-1). */
export const MAX_ID = 2_147_483_647;
const MAX_BODY_BYTES = 1_000_000;

function fieldErrors(error: z.ZodError, root = '(body)'): FieldError[] {
  const out: FieldError[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push({ field: [...issue.path, key].join('.'), message: 'unknown field' });
    } else {
      out.push({ field: issue.path.join('.') || root, message: issue.message });
    }
  }
  return out;
}

/**
 * `field` names the value itself when it is not an object (a path or query parameter), so its
 * errors read e.g. "address" instead of "(body)".
 */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown, what: string, field?: string): z.output<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw badRequest(`The ${what} is not valid.`, fieldErrors(r.error, field));
  return r.data;
}

/** A path id: digits only, 1..2^31-1; anything else is a 400 (a well-formed id that does not exist is a 404 later). */
export function parseId(raw: string | undefined, name = 'id'): number {
  if (raw === undefined || !/^\d{1,10}$/.test(raw) || Number(raw) < 1 || Number(raw) > MAX_ID) {
    throw badRequest(`"${String(raw).slice(0, 40)}" is not a valid ${name}.`, [{ field: name, message: 'must be a positive whole number' }]);
  }
  return Number(raw);
}

export function parseQuery<S extends z.ZodType>(c: Context, schema: S): z.output<S> {
  return parseWith(schema, c.req.query(), 'query');
}

/** Reads a JSON body; malformed JSON, a wrong content type or an oversized body is a 4xx before any write. */
export async function readJson<S extends z.ZodType>(c: Context, schema: S): Promise<z.output<S>> {
  const type = c.req.header('content-type') ?? '';
  if (!/^application\/(?:[\w.+-]+\+)?json\b/i.test(type)) {
    throw badRequest('Send the body as JSON (Content-Type: application/json).', [{ field: '(body)', message: 'expected application/json' }]);
  }
  const declared = Number(c.req.header('content-length') ?? 0);
  if (declared > MAX_BODY_BYTES) throw new Problem(413, 'Content Too Large', `The body is larger than ${MAX_BODY_BYTES} bytes.`);
  const text = await c.req.text();
  if (text.length > MAX_BODY_BYTES) throw badRequest('The body is too large.', [{ field: '(body)', message: `at most ${MAX_BODY_BYTES} bytes` }]);
  let value: unknown;
  try {
    value = text.trim() === '' ? {} : JSON.parse(text);
  } catch {
    throw badRequest('The body is not valid JSON.', [{ field: '(body)', message: 'malformed JSON' }]);
  }
  return parseWith(schema, value, 'request body');
}

export function requireFound<T>(value: T | undefined | null, detail: string): T {
  if (value === undefined || value === null) throw notFound(detail);
  return value;
}

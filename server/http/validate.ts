// Edge validation: turns ids, query strings and JSON bodies into typed input, or a 400 problem naming each field.
import type { Context } from 'hono';
import type { z } from 'zod';
import { badRequest, contentTooLarge, notFound, type FieldError } from './problem.ts';
import { CONTROL_CHARACTER, CONTROL_CHARACTERS } from '#data/contracts/text.ts';

/** The largest id a path accepts (SQLite would go further; the API, the contracts and the forms stop at 2^31-1). */
export const MAX_ID = 2_147_483_647;
/** Every request body is capped at this before anything reads it (server/app.ts); a route needing more would say so there. */
export const MAX_BODY_BYTES = 1024 * 1024;

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

// The rule itself is shared with the MX node, which cleans what it ships by it (data/contracts/text.ts).
export { CONTROL_CHARACTER };
const MAX_CONTROL_ERRORS = 20;
export const CONTROL_CHARACTER_DETAIL = 'Text may not contain control characters other than tab, line feed and carriage return.';

const codePoint = (ch: string) => `U+${ch.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
/** A key as it may be shown back: its control characters written as \uXXXX, never raw. */
const printable = (key: string) => key.replace(CONTROL_CHARACTERS, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);

/**
 * Every string (and object key) in a parsed body, query or parameter that holds a control character, named by its
 * path as the schema errors name fields ("phases.1.title"). Iterative, so a deeply nested body cannot overflow the stack.
 */
export function controlCharacterErrors(value: unknown, root = '(body)'): FieldError[] {
  const errors: FieldError[] = [];
  const stack: { value: unknown; path: string[] }[] = [{ value, path: [] }];
  while (stack.length > 0 && errors.length < MAX_CONTROL_ERRORS) {
    const { value: v, path } = stack.pop()!;
    if (typeof v === 'string') {
      const m = CONTROL_CHARACTER.exec(v);
      if (m) errors.push({ field: path.join('.') || root, message: `contains a control character (${codePoint(m[0])})` });
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], path: [...path, String(i)] });
    } else if (v !== null && typeof v === 'object') {
      const entries = Object.entries(v);
      for (let i = entries.length - 1; i >= 0; i--) {
        const [key, item] = entries[i];
        const name = [...path, printable(key)];
        if (CONTROL_CHARACTER.test(key)) errors.push({ field: name.join('.'), message: 'the field name contains a control character' });
        else stack.push({ value: item, path: name });
      }
    }
  }
  return errors;
}

/** Throws the 400 for control characters anywhere in a parsed input (see controlCharacterErrors). */
export function refuseControlCharacters(value: unknown, root?: string): void {
  const errors = controlCharacterErrors(value, root);
  if (errors.length) throw badRequest(CONTROL_CHARACTER_DETAIL, errors);
}

/**
 * `field` names the value itself when it is not an object (a path or query parameter), so its
 * errors read e.g. "address" instead of "(body)". Control characters are refused before the schema
 * runs, so every body, query and parameter read through here is checked once, at the edge.
 */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown, what: string, field?: string): z.output<S> {
  refuseControlCharacters(value, field);
  return parseChecked(schema, value, what, field);
}

/**
 * The schema half of parseWith, for a value whose control characters parseWith has already refused: a body read
 * with `readJson(c, z.unknown())` so the route can look at it before its real schema runs (POST /api/v1/telemetry
 * counts the events first). Saves walking every string of the body a second time; never give it unchecked input.
 */
export function parseChecked<S extends z.ZodType>(schema: S, checked: unknown, what: string, field?: string): z.output<S> {
  const r = schema.safeParse(checked);
  if (!r.success) throw badRequest(`The ${what} is not valid.`, fieldErrors(r.error, field));
  return r.data;
}

/** A path id: digits only, 1..2^31-1; anything else is a 400 (a well-formed id that does not exist is a 404 later). */
export function parseId(raw: string | undefined, name = 'id'): number {
  if (raw === undefined || !/^\d{1,10}$/.test(raw) || Number(raw) < 1 || Number(raw) > MAX_ID) {
    throw badRequest(`"${String(raw).slice(0, 40)}" is not a valid ${name}.`, [
      { field: name, message: 'must be a positive whole number' },
    ]);
  }
  return Number(raw);
}

export function parseQuery<S extends z.ZodType>(c: Context, schema: S): z.output<S> {
  return parseWith(schema, c.req.query(), 'query');
}

/**
 * Reads a JSON body; malformed JSON, a wrong content type or an oversized body is a 4xx before any write. The app's
 * body limit has already refused anything larger; the checks here keep the reader safe on its own.
 */
export async function readJson<S extends z.ZodType>(c: Context, schema: S): Promise<z.output<S>> {
  return parseWith(schema, await readJsonValue(c), 'request body');
}

/**
 * readJson's reading half: content type, size and JSON checked, nothing else; control characters NOT refused. Only
 * for a route that checks the value itself before any use (POST /api/v1/telemetry: server/http/telemetry-batch.ts).
 */
export async function readJsonValue(c: Context): Promise<unknown> {
  const type = c.req.header('content-type') ?? '';
  if (!/^application\/(?:[\w.+-]+\+)?json\b/i.test(type)) {
    throw badRequest('Send the body as JSON (Content-Type: application/json).', [
      { field: '(body)', message: 'expected application/json' },
    ]);
  }
  const declared = Number(c.req.header('content-length') ?? 0);
  if (declared > MAX_BODY_BYTES) throw contentTooLarge(MAX_BODY_BYTES);
  const text = await c.req.text();
  if (text.length > MAX_BODY_BYTES) throw contentTooLarge(MAX_BODY_BYTES);
  let value: unknown;
  try {
    value = text.trim() === '' ? {} : JSON.parse(text);
  } catch {
    throw badRequest('The body is not valid JSON.', [{ field: '(body)', message: 'malformed JSON' }]);
  }
  return value;
}

export function requireFound<T>(value: T | undefined | null, detail: string): T {
  if (value === undefined || value === null) throw notFound(detail);
  return value;
}

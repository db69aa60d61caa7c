// One error type at the edge: every failure leaves as RFC 9457 problem details JSON.
import type { Context } from 'hono';
import { Conflict, DomainError, Forbidden, Invalid, NotFound, Unprocessable, type FieldError } from '../domain/errors.ts';

export type { FieldError };

export class Problem extends Error {
  readonly status: number;
  readonly title: string;
  readonly detail: string;
  readonly errors: FieldError[];
  /** Extension members (RFC 9457 section 3.2), added to the body next to the standard ones, never replacing them. */
  readonly extensions: Record<string, unknown>;
  constructor(status: number, title: string, detail: string, errors: FieldError[] = [], extensions: Record<string, unknown> = {}) {
    super(detail);
    this.status = status;
    this.title = title;
    this.detail = detail;
    this.errors = errors;
    this.extensions = extensions;
  }
}

// Helpers for refusals the edge itself makes (validation, log-in, CSRF); services raise server/domain/errors.ts instead.
export const notFound = (detail: string) => new Problem(404, 'Not Found', detail);
export const badRequest = (detail: string, errors: FieldError[] = []) => new Problem(400, 'Bad Request', detail, errors);
export const unauthorized = (detail = 'Log in first.') => new Problem(401, 'Unauthorized', detail);
export const forbidden = (detail: string) => new Problem(403, 'Forbidden', detail);
export const contentTooLarge = (maxBytes: number) =>
  new Problem(413, 'Content Too Large', `The request body is larger than ${maxBytes} bytes.`);

/** The one mapping of service refusals to HTTP: statuses and titles as the API has always answered them. */
const DOMAIN_STATUS: [new (...args: never[]) => DomainError, number, string][] = [
  [NotFound, 404, 'Not Found'],
  [Conflict, 409, 'Conflict'],
  [Invalid, 400, 'Bad Request'],
  [Forbidden, 403, 'Forbidden'],
  [Unprocessable, 422, 'Unprocessable Content'],
];

/** The problem an error answers as: itself, a service refusal's status and message, or null for a bug (a 500). */
export function problemOf(err: unknown): Problem | null {
  if (err instanceof Problem) return err;
  if (!(err instanceof DomainError)) return null;
  const found = DOMAIN_STATUS.find(([type]) => err instanceof type);
  return found ? new Problem(found[1], found[2], err.message, err.errors, err.extensions) : null;
}

export function problemResponse(c: Context, p: Problem): Response {
  const body: Record<string, unknown> = { ...p.extensions, type: 'about:blank', status: p.status, title: p.title, detail: p.detail };
  if (p.errors.length) body.errors = p.errors;
  // Errors are about this one request: never stored, never sniffed (they may echo what the client sent).
  return c.json(body, p.status as 400, {
    'content-type': 'application/problem+json',
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
}

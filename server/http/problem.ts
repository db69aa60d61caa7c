// One error type at the edge: every failure leaves as RFC 9457 problem details JSON.
import type { Context } from 'hono';

export interface FieldError { field: string; message: string }

export class Problem extends Error {
  readonly status: number;
  readonly title: string;
  readonly detail: string;
  readonly errors: FieldError[];
  constructor(status: number, title: string, detail: string, errors: FieldError[] = []) {
    super(detail);
    this.status = status;
    this.title = title;
    this.detail = detail;
    this.errors = errors;
  }
}

export const notFound = (detail: string) => new Problem(404, 'Not Found', detail);
export const badRequest = (detail: string, errors: FieldError[] = []) => new Problem(400, 'Bad Request', detail, errors);
export const unauthorized = (detail = 'Log in first.') => new Problem(401, 'Unauthorized', detail);
export const forbidden = (detail: string) => new Problem(403, 'Forbidden', detail);
export const conflict = (detail: string) => new Problem(409, 'Conflict', detail);
export const contentTooLarge = (maxBytes: number) => new Problem(413, 'Content Too Large', `The request body is larger than ${maxBytes} bytes.`);

export function problemResponse(c: Context, p: Problem): Response {
  const body: Record<string, unknown> = { type: 'about:blank', status: p.status, title: p.title, detail: p.detail };
  if (p.errors.length) body.errors = p.errors;
  // Errors are about this one request: never stored, never sniffed (they may echo what the client sent).
  return c.json(body, p.status as 400, { 'content-type': 'application/problem+json', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
}

// Security headers by kind of answer, in one place, so Hono and the cached-page fast path send the same ones.
import type { MiddlewareHandler } from 'hono';

/**
 * The public pages run no script at all, so none is allowed (the section pages' charts: CHART_PAGE_SECURITY below).
 * Styles come from the hashed stylesheet; the percent and plan bars place themselves with style attributes
 * (style-src-attr), which can neither run script nor load anything img-src refuses.
 */
export const PUBLIC_PAGE_SECURITY = {
  'content-security-policy':
    "default-src 'none'; style-src 'self'; style-src-attr 'unsafe-inline'; img-src 'self'; " +
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  'referrer-policy': 'same-origin',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
} as const;

/**
 * Section pages draw their telemetry charts with a script file bundled from this origin: script-src 'self' and nothing
 * more (no inline code, no eval). Their JSON data block is a <script type="application/json">, which never runs.
 */
export const CHART_PAGE_SECURITY = {
  ...PUBLIC_PAGE_SECURITY,
  'content-security-policy': PUBLIC_PAGE_SECURITY['content-security-policy'].replace(
    "default-src 'none';",
    "default-src 'none'; script-src 'self';",
  ),
} as const;

/** JSON, feeds and static files: never sniffed into something runnable, and opened on their own they load nothing. */
export const FILE_SECURITY = {
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
} as const;

/** API answers carry live or personal data: not stored unless a route says otherwise. */
export const API_HEADERS = { ...FILE_SECURITY, 'cache-control': 'no-store' } as const;

/** Sets each header the handlers left unset, after they ran: their own answers, redirects and errors alike. */
export function defaultHeaders(headers: Readonly<Record<string, string>>): MiddlewareHandler {
  const entries = Object.entries(headers);
  return async (c, next) => {
    await next();
    for (const [name, value] of entries) if (!c.res.headers.has(name)) c.res.headers.set(name, value);
  };
}

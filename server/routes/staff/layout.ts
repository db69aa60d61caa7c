// The staff pages' shell: escaped templates, navigation, notices, and small form pieces shared by every page.
import { createHash } from 'node:crypto';
import type { Context } from 'hono';
import { html, raw } from 'hono/html';
import type { StaffAuth } from '../../http/auth.ts';
import type { FieldError } from '../../http/problem.ts';

export type Html = ReturnType<typeof html>;
export { html, raw };

/** Messages shown after a redirect, picked by a fixed key so nothing typed ever travels in a URL. */
export const NOTICES: Record<string, string> = {
  saved: 'Saved.',
  'subscriber-enabled': 'Subscriber enabled: later events reach them again.',
  created: 'Task created.',
  commented: 'Comment posted.',
  closed: 'Task closed.',
  reopened: 'Task reopened.',
  phases: 'Deployment plan saved.',
  override: 'Override set.',
  cleared: 'Override cleared.',
  added: 'Added.',
  deleted: 'Deleted.',
  disabled: 'Account disabled; its sessions have ended.',
  enabled: 'Account enabled.',
  loggedout: 'You are logged out.',
  unchanged: 'Nothing changed.',
  password: 'Your new password is set; your other sessions have ended.',
  'release-requested': 'Release requested: the MX node delivers the message on its next config sync.',
  'switch-scheduled': 'Switch scheduled: the MX nodes get it on their next config sync.',
  'switch-cancelled': 'Switch cancelled.',
  switched: 'Switched: the MX nodes take the new mode on their next config sync.',
  'delete-requested': 'Deletion requested: the MX node deletes the message on its next config sync.',
  'webhook-removed': 'Webhook removed, with its delivery log.',
  'webhook-enabled': 'Webhook enabled: its queued deliveries go out again.',
  'webhook-disabled': 'Webhook disabled: nothing is sent to it until it is enabled.',
};

const CSS = `
:root{color-scheme:light dark;font-family:system-ui,sans-serif;line-height:1.45}
body{margin:0;background:Canvas;color:CanvasText}
header{display:flex;flex-wrap:wrap;gap:.25rem 1rem;align-items:center;padding:.5rem 1rem;border-bottom:1px solid #8886}
header nav{display:flex;flex-wrap:wrap;gap:.75rem}
header form{margin-left:auto}
main{padding:1rem;max-width:70rem}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #8884;padding:.3rem .4rem;text-align:left;vertical-align:top}
label{display:block;margin:.4rem 0 .1rem;font-weight:600}
input[type=text],input[type=password],textarea,select{width:100%;max-width:40rem;box-sizing:border-box;font:inherit}
textarea{min-height:8rem;font-family:ui-monospace,monospace}
button,select,input:not([type=hidden],[type=checkbox],[type=radio]){min-height:24px}
fieldset{margin:1rem 0;border:1px solid #8886}
.notice{padding:.5rem;border:2px solid #2a7d2a}.error{padding:.5rem;border:2px solid #b00020}
.preview{border:1px dashed #888;padding:.5rem;margin:.5rem 0}
.inline{display:inline}.muted{opacity:.75}.row{display:flex;flex-wrap:wrap;gap:.5rem;align-items:end}
pre.diff{white-space:pre-wrap;margin:0}
`;

/**
 * Every /staff answer (server/app.ts sets them): staff pages show live data and personal tokens, so they are never
 * cached or framed and run no script but our own file; the one inline stylesheet is allowed by its hash, and only
 * style attributes besides it (they can neither run script nor load anything img-src refuses).
 */
export const STAFF_SECURITY_HEADERS = {
  'content-security-policy':
    `default-src 'none'; script-src 'self'; style-src 'sha256-${createHash('sha256').update(CSS).digest('base64')}'; ` +
    "style-src-attr 'unsafe-inline'; img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  'referrer-policy': 'same-origin',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'cache-control': 'no-store',
} as const;

export interface PageOptions {
  title: string;
  auth: StaffAuth | null;
  notice?: string | null;
  errors?: readonly (string | FieldError)[];
  body: Html;
}

export function page(o: PageOptions): Html {
  const nav = o.auth
    ? html`<nav aria-label="Staff">
      <a href="/staff">Dashboard</a><a href="/staff/tasks/new">New task</a><a href="/staff/lists">Sections &amp; lists</a>
      <a href="/staff/overrides">Overrides</a><a href="/staff/mail">Mail</a><a href="/staff/webhooks">Webhooks</a>
      ${o.auth.user.role === 'admin' ? html`<a href="/staff/audit">Audit log</a><a href="/staff/users">Users</a>` : ''}
      <a href="/staff/notify">Subscriber mail</a><a href="/staff/password">Password</a><a href="/">Public site</a>
    </nav>
    <form method="post" action="/staff/logout">${csrfField(o.auth)}<span class="muted">${o.auth.user.displayName}</span>
      <button type="submit">Log out</button></form>`
    : '';
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex"><title>${o.title} · Tidings staff</title><style>${raw(CSS)}</style>
${o.auth ? html`<script src="/staff/assets/enhance.js" defer></script>` : ''}</head>
<body><header><strong>Tidings staff</strong>${nav}</header>
<main id="main"><h1>${o.title}</h1>
${o.notice ? html`<p class="notice" role="status">${o.notice}</p>` : ''}
${errorList(o.errors ?? [])}
${o.body}</main></body></html>`;
}

export function errorList(errors: readonly (string | FieldError)[]): Html | string {
  if (errors.length === 0) return '';
  return html`<div class="error" role="alert"><ul>${errors.map((e) =>
    typeof e === 'string'
      ? html`<li>${e}</li>`
      : html`<li>${e.field && e.field !== '(body)' ? html`<strong>${e.field}</strong>: ` : ''}${e.message}</li>`,
  )}</ul></div>`;
}

export function csrfField(auth: StaffAuth): Html {
  return html`<input type="hidden" name="_csrf" value="${auth.csrfToken}">`;
}

const DST_NOTES: Record<string, string> = {
  skipped:
    'Note: a time you entered does not exist on that day (the clocks jumped forward over it); it was read as the same time after the jump. Check the saved time.',
  repeated: 'Note: a time you entered happened twice on that day (the clocks went back); the earlier one was used. Check the saved time.',
};

export function noticeOf(c: Context): string | null {
  const key = c.req.query('done');
  const tz = c.req.query('tz');
  const parts = [key && Object.hasOwn(NOTICES, key) ? NOTICES[key] : null, tz && Object.hasOwn(DST_NOTES, tz) ? DST_NOTES[tz] : null];
  return parts.filter(Boolean).join(' ') || null;
}

/** A staff page; its security headers (STAFF_SECURITY_HEADERS) are added to every /staff answer, not just pages. */
export function send(c: Context, body: Html, status = 200): Response | Promise<Response> {
  return c.html(body, status as 200);
}

export function options(items: readonly { id: number; label: string }[], selected: number | null | undefined, empty?: string): Html {
  return html`${empty !== undefined ? html`<option value=""${selected == null ? raw(' selected') : ''}>${empty}</option>` : ''}${items.map(
    (i) => html`<option value="${i.id}"${i.id === selected ? raw(' selected') : ''}>${i.label}</option>`,
  )}`;
}

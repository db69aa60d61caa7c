// The session cookie: its name (__Host- and Secure on https), random value, and the hash that the database keeps.
import { createHash, randomBytes } from 'node:crypto';
import type { Context } from 'hono';
import { getCookie, setCookie, deleteCookie } from 'hono/cookie';
import type { Config } from '#data/config.ts';

export const SESSION_TTL_MS = 12 * 60 * 60_000;

export const isHttps = (config: Pick<Config, 'publicUrl'>) => config.publicUrl.startsWith('https:');

export function sessionCookieName(config: Config): string {
  return isHttps(config) ? '__Host-tidings_session' : 'tidings_session';
}

/** 256 random bits; only its sha256 is stored, so a database leak does not hand out sessions. */
export function newSessionSecret(): string {
  return randomBytes(32).toString('base64url');
}

export function newCsrfToken(): string {
  return randomBytes(32).toString('base64url');
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export function readSessionSecret(c: Context, config: Config): string | undefined {
  const v = getCookie(c, sessionCookieName(config));
  return v && /^[A-Za-z0-9_-]{20,100}$/.test(v) ? v : undefined;
}

export function setSessionCookie(c: Context, config: Config, secret: string, expiresAt: Date): void {
  setCookie(c, sessionCookieName(config), secret, {
    httpOnly: true,
    sameSite: 'Lax',
    path: '/',
    secure: isHttps(config),
    expires: expiresAt,
  });
}

export function clearSessionCookie(c: Context, config: Config): void {
  deleteCookie(c, sessionCookieName(config), { path: '/', secure: isHttps(config), httpOnly: true, sameSite: 'Lax' });
}

/**
 * The client's address for rate limits and the audit log. Behind a reverse proxy listed in
 * TIDINGS_TRUSTED_PROXIES it is the right-most X-Forwarded-For hop that is not itself a trusted
 * proxy; otherwise the socket peer ('unknown' under app.request() in tests without an env).
 */
export function clientIp(c: Context, config: Pick<Config, 'trustedProxies'>): string {
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
  const peer = normalizeIp(env?.incoming?.socket?.remoteAddress ?? 'unknown');
  if (!config.trustedProxies.includes(peer)) return peer;
  const hops = (c.req.header('x-forwarded-for') ?? '')
    .split(',')
    .map((h) => normalizeIp(h.trim()))
    .filter(Boolean);
  for (let i = hops.length - 1; i >= 0; i--) {
    if (!config.trustedProxies.includes(hops[i])) return hops[i];
  }
  return peer;
}

function normalizeIp(ip: string): string {
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}

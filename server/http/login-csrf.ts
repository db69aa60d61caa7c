// Login CSRF: before there is a session, the login form carries a random token that must match a short-lived cookie.
// Without it another site could post its own credentials to our login form and have a staff member work inside the
// attacker's account (a forged login). A cross-site page can make the browser post a form, but it cannot read our
// cookie or our page, so it cannot know the token (double-submit; the cookie is __Host- on https, so no subdomain can plant one).
import type { Context } from 'hono';
import { getCookie, setCookie, deleteCookie } from 'hono/cookie';
import type { Config } from '#data/config.ts';
import { isHttps, newCsrfToken } from './session.ts';
import { sameToken } from './auth.ts';

/** Long enough to type a password after a coffee; a form older than this is re-shown with a fresh token. */
export const LOGIN_CSRF_TTL_SECONDS = 2 * 60 * 60;

export const LOGIN_CSRF_REFUSED = 'The login form has expired or was not sent from this site. Enter your password again and log in.';

export function loginCsrfCookieName(config: Pick<Config, 'publicUrl'>): string {
  return isHttps(config) ? '__Host-tidings_login_csrf' : 'tidings_login_csrf';
}

function cookieToken(c: Context, config: Pick<Config, 'publicUrl'>): string | undefined {
  const v = getCookie(c, loginCsrfCookieName(config));
  return v && /^[A-Za-z0-9_-]{20,100}$/.test(v) ? v : undefined;
}

/**
 * The token for the hidden field of a login form being rendered. An existing cookie's token is reused (so two open
 * login tabs both work) and its lifetime renewed; otherwise a new random one is set.
 */
export function issueLoginCsrf(c: Context, config: Pick<Config, 'publicUrl'>, o: { fresh?: boolean } = {}): string {
  const token = (!o.fresh && cookieToken(c, config)) || newCsrfToken();
  setCookie(c, loginCsrfCookieName(config), token, {
    httpOnly: true,
    sameSite: 'Lax',
    path: '/',
    secure: isHttps(config),
    maxAge: LOGIN_CSRF_TTL_SECONDS,
  });
  return token;
}

/** True when the form's token matches the cookie set with the login page. */
export function loginCsrfMatches(c: Context, config: Pick<Config, 'publicUrl'>, presented: unknown): boolean {
  const expected = cookieToken(c, config);
  return !!expected && typeof presented === 'string' && presented.length > 0 && sameToken(presented, expected);
}

/** After a login the token has done its job; the session's own CSRF token takes over. */
export function clearLoginCsrf(c: Context, config: Pick<Config, 'publicUrl'>): void {
  deleteCookie(c, loginCsrfCookieName(config), { path: '/', secure: isHttps(config), httpOnly: true, sameSite: 'Lax' });
}

// Drives the staff pages like a browser without JavaScript: cookie jar, CSRF token read from the page, form posts.
import pino from 'pino';
import { loadConfig } from '#data/config.ts';
import { openBackendStore } from '#server/store/open.ts';
import { createApp } from '#server/app.ts';
import { createChangeCounter } from '#server/deps.ts';
import { addStaff } from '#server/services/users/addStaff.ts';

export function makeStaffHarness(opts: { start?: string; env?: Record<string, string> } = {}) {
  let now = new Date(opts.start ?? '2026-01-15T12:00:00.000Z');
  const clock = () => new Date(now.getTime());
  const db = openBackendStore(':memory:', clock);
  const config = loadConfig({ TIDINGS_PUBLIC_URL: 'http://localhost:8080', TIDINGS_STATE_DIR: '/nonexistent', ...opts.env }, '/');
  const changes = createChangeCounter();
  const app = createApp({ db, config, clock, log: pino({ level: 'silent' }), changes });
  const ctx = { db, clock, changes, publicUrl: config.publicUrl };
  const h = {
    app,
    db,
    config,
    changes,
    ctx,
    clock,
    advance(ms: number) {
      now = new Date(now.getTime() + ms);
    },
    async addUser(
      username: string,
      role: 'admin' | 'staff' = 'staff',
      password = 'correct horse battery',
      displayName = `${username} (display)`,
    ) {
      return (await addStaff({ ctx, actor: { userId: null, name: 'test' }, input: { username, role, password, displayName } })).user;
    },
  };

  class Browser {
    /** The cookie jar: name → value, as a browser keeps them (a Max-Age=0 or past expiry removes one). */
    jar = new Map<string, string>();
    csrf = '';
    get cookie(): string {
      return [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
    }
    keepCookies(res: Response): void {
      for (const set of res.headers.getSetCookie()) {
        const [pair] = set.split(';');
        const name = pair.slice(0, pair.indexOf('='));
        if (/Max-Age=0|expires=Thu, 01 Jan 1970/i.test(set)) this.jar.delete(name);
        else this.jar.set(name, pair.slice(pair.indexOf('=') + 1));
      }
    }
    async get(path: string): Promise<{ status: number; text: string; location: string | null }> {
      const res = await h.app.request(path, { headers: this.cookie ? { cookie: this.cookie } : {} });
      this.keepCookies(res);
      const text = await res.text();
      const m = /name="_csrf" value="([^"]+)"/.exec(text);
      if (m) this.csrf = m[1];
      return { status: res.status, text, location: res.headers.get('location') };
    }
    async post(
      path: string,
      fields: Record<string, string>,
      o: { csrf?: string | false } = {},
    ): Promise<{ status: number; text: string; location: string | null }> {
      const body = new URLSearchParams(fields);
      if (o.csrf !== false) body.set('_csrf', o.csrf ?? this.csrf);
      const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
      if (this.cookie) headers.cookie = this.cookie;
      const res = await h.app.request(
        path,
        { method: 'POST', headers, body: body.toString() },
        { incoming: { socket: { remoteAddress: '192.0.2.9' } } },
      );
      this.keepCookies(res);
      const text = await res.text();
      // A re-shown form (a refused login, say) carries the token to send next, as a browser would use it.
      const m = /name="_csrf" value="([^"]+)"/.exec(text);
      if (m) this.csrf = m[1];
      return { status: res.status, text, location: res.headers.get('location') };
    }
    /** Opens the login page (which sets the login-CSRF cookie and token) and submits it. */
    async submitLogin(username: string, password: string, next = '/staff') {
      await this.get(`/staff/login?next=${encodeURIComponent(next)}`);
      return this.post('/staff/login', { username, password, next });
    }
    async login(username: string, password = 'correct horse battery') {
      const r = await this.submitLogin(username, password);
      if (r.status !== 303) throw new Error(`staff login ${username}: ${r.status} ${r.text.slice(0, 300)}`);
      await this.get('/staff');
      return r;
    }
  }
  return { ...h, browser: () => new Browser() };
}

/** The text of the page without tags, whitespace collapsed, for "the user sees X" assertions. */
export function visibleText(html: string): string {
  return html
    .replace(/<style[\s\S]*?<\/style>/g, ' ')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ')
    .trim();
}

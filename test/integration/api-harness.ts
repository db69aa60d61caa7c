// Test harness for the HTTP API: an in-memory store, a settable clock, and helpers to log in and send JSON.
import pino from 'pino';
import { loadConfig } from '#data/config.ts';
import { openBackendStore } from '#server/store/open.ts';
import { createApp } from '#server/app.ts';
import { createChangeCounter } from '#server/deps.ts';
import { addStaff } from '#server/services/users/addStaff.ts';

export interface Session {
  cookie: string;
  csrf: string;
  userId: number;
}

export interface RequestOptions {
  body?: unknown;
  /** Sent as-is (for malformed JSON); overrides body. */
  raw?: string;
  session?: Session;
  /** false: leave out the CSRF header even with a session. */
  csrf?: string | false;
  headers?: Record<string, string>;
  ip?: string;
}

export function makeHarness(opts: { publicUrl?: string; start?: string; env?: Record<string, string> } = {}) {
  let now = new Date(opts.start ?? '2026-01-15T12:00:00.000Z');
  const clock = () => new Date(now.getTime());
  const db = openBackendStore(':memory:', clock);
  const config = loadConfig(
    { TIDINGS_PUBLIC_URL: opts.publicUrl ?? 'http://localhost:8080', TIDINGS_STATE_DIR: '/nonexistent', ...opts.env },
    '/',
  );
  const changes = createChangeCounter();
  const app = createApp({ db, config, clock, log: pino({ level: 'silent' }), changes });
  const ctx = { db, clock, changes };

  async function request(method: string, path: string, o: RequestOptions = {}): Promise<Response> {
    const headers: Record<string, string> = { ...o.headers };
    let body: string | undefined;
    if (o.raw !== undefined) {
      body = o.raw;
      headers['content-type'] ??= 'application/json';
    } else if (o.body !== undefined) {
      body = JSON.stringify(o.body);
      headers['content-type'] ??= 'application/json';
    }
    if (o.session) {
      headers.cookie = o.session.cookie;
      if (o.csrf !== false) headers['x-csrf-token'] = o.csrf ?? o.session.csrf;
    }
    const env = { incoming: { socket: { remoteAddress: o.ip ?? '192.0.2.1' } } };
    return app.request(path, { method, headers, body }, env);
  }

  async function addUser(username: string, role: 'admin' | 'staff' = 'staff', password = 'correct horse battery') {
    const r = await addStaff({
      ctx,
      actor: { userId: null, name: 'test' },
      input: { username, role, password, displayName: `${username} (display)` },
    });
    return r.user;
  }

  async function login(
    username: string,
    password = 'correct horse battery',
    extra: { cookie?: string; ip?: string } = {},
  ): Promise<Session> {
    const res = await request('POST', '/api/v1/auth/login', {
      body: { username, password },
      headers: extra.cookie ? { cookie: extra.cookie } : {},
      ip: extra.ip,
    });
    if (res.status !== 200) throw new Error(`login ${username}: ${res.status} ${await res.text()}`);
    const json = (await res.json()) as { csrfToken: string; user: { id: number } };
    return { cookie: cookieOf(res), csrf: json.csrfToken, userId: json.user.id };
  }

  /** A logged-in admin, the usual actor of write tests. */
  async function admin(): Promise<Session> {
    await addUser('alice', 'admin');
    return login('alice');
  }

  return {
    app,
    db,
    config,
    changes,
    ctx,
    request,
    addUser,
    login,
    admin,
    advance(ms: number) {
      now = new Date(now.getTime() + ms);
    },
    now: () => clock(),
  };
}

/** "name=value" of the first Set-Cookie header. */
export function cookieOf(res: Response): string {
  const set = res.headers.get('set-cookie');
  if (!set) throw new Error('no Set-Cookie');
  return set.split(';')[0];
}

export async function json<T = unknown>(res: Response): Promise<T> {
  return (await res.json()) as T;
}

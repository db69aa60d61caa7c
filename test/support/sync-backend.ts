// A backend over real HTTP for config-sync tests: an in-memory store, a staff session for the API, a node token.
import { after } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import pino from 'pino';
import { loadConfig } from '#data/config.ts';
import type { DB } from '#data/db.ts';
import { type ConfigSync, type ConfigSyncOptions, createConfigSync } from '#mailsystem/config/sync.ts';
import { silentLog, systemClock } from '#mailsystem/deps.ts';
import { createBackendPost } from '#mailsystem/telemetry/http.ts';
import { createShipper, type Shipper, type ShipperOptions } from '#mailsystem/telemetry/shipper.ts';
import { createApp } from '#server/app.ts';
import { createChangeCounter, type ServerDeps } from '#server/deps.ts';
import { issueNodeToken } from '#server/services/mail/issueNodeToken.ts';
import { addStaff } from '#server/services/users/addStaff.ts';
import { openBackendStore } from '#server/store/open.ts';

const servers: ServerType[] = [];
after(() => {
  for (const s of servers) s.close();
});

export interface SyncBackend {
  db: DB;
  server: ServerType;
  url: string;
  /** A staff API call; asserts a 2xx answer and resolves with its JSON body (undefined when it has none). */
  api: (method: string, path: string, body?: unknown) => Promise<unknown>;
  /** A node token for GET /api/v1/mx/config. */
  token: string;
}

export async function startSyncBackend(): Promise<SyncBackend> {
  const db = openBackendStore(':memory:');
  const deps: ServerDeps = {
    db,
    config: loadConfig({}),
    clock: () => new Date(),
    log: pino({ level: 'silent' }),
    changes: createChangeCounter(),
  };
  const app = createApp(deps);
  const server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s));
  });
  servers.push(server);
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const ctx = { db, clock: deps.clock, changes: deps.changes };
  await addStaff({
    ctx,
    actor: { userId: null, name: 'test' },
    input: { username: 'ops', role: 'staff', password: 'correct horse battery', displayName: 'Ops' },
  });
  const login = await fetch(`${url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'ops', password: 'correct horse battery' }),
  });
  assert.equal(login.status, 200);
  const session = {
    cookie: login.headers.get('set-cookie')!.split(';')[0],
    csrf: ((await login.json()) as { csrfToken: string }).csrfToken,
  };
  const api = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    const headers = { 'content-type': 'application/json', cookie: session.cookie, 'x-csrf-token': session.csrf };
    const res = await fetch(url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    assert.ok(res.ok, `${method} ${path} → ${res.status} ${text}`);
    return res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : undefined;
  };
  const token = issueNodeToken({ ctx, actor: { userId: null, name: 'test' }, name: 'mx-test' });
  return { db, server, url, api, token };
}

/** The node's config sync against this backend, with its node token (started by the caller, if at all). */
export function syncFrom(backend: SyncBackend, db: DB, opts: Partial<ConfigSyncOptions> = {}): ConfigSync {
  return createConfigSync({ db, backendUrl: backend.url, token: backend.token, clock: systemClock, log: silentLog, ...opts });
}

/** The node's telemetry shipper to this backend over HTTP, with its node token, for a node that scans. */
export function shipperTo(backend: SyncBackend, db: DB, opts: Partial<ShipperOptions> = {}): Shipper {
  const post = createBackendPost({ backendUrl: backend.url, token: backend.token });
  return createShipper({ db, clock: systemClock, log: silentLog, post, scanning: 'on', ...opts });
}

// Starts the real backend app with the built site on a loopback port, over an in-memory store with a settable clock.
import assert from 'node:assert/strict';
import pino from 'pino';
import { serve, type ServerType } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '#data/config.ts';
import type { DB } from '#data/db.ts';
import { TELEMETRY_MAX_BATCH, type TelemetryEvent, type TelemetryHeartbeat } from '#data/contracts/telemetry.ts';
import { openBackendStore } from '#server/store/open.ts';
import { createApp } from '#server/app.ts';
import { createChangeCounter, type ChangeCounter } from '#server/deps.ts';
import { ensureSiteBuilt } from '#server/site/build.ts';

export interface SiteServer {
  url: string;
  db: DB;
  changes: ChangeCounter;
  setNow(iso: string): void;
  get(path: string, init?: RequestInit): Promise<Response>;
  close(): Promise<void>;
}

export async function startSiteServer(
  opts: { now?: string; tz?: string; db?: DB /** More TIDINGS_* settings. */; env?: Record<string, string> } = {},
): Promise<SiteServer> {
  await ensureSiteBuilt({ info: () => {} });
  let now = new Date(opts.now ?? '2026-01-15T12:00:00.000Z');
  const clock = () => new Date(now.getTime());
  const db = opts.db ?? openBackendStore(':memory:', clock);
  const config = loadConfig(
    {
      TIDINGS_PUBLIC_URL: 'http://status.example.test',
      TIDINGS_STATE_DIR: '/nonexistent',
      TIDINGS_DISPLAY_TZ: opts.tz ?? 'UTC',
      ...opts.env,
    },
    '/',
  );
  const changes = createChangeCounter();
  const app = createApp({ db, config, clock, log: pino({ level: 'silent' }), changes });
  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s));
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    db,
    changes,
    setNow: (iso) => {
      now = new Date(iso);
    },
    get: (path, init) => fetch(url + path, { redirect: 'manual', ...init }),
    close: () =>
      new Promise<void>((resolve, reject) => {
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
        server.close((err) => {
          db.close();
          if (err) reject(err);
          else resolve();
        });
      }),
  };
}

/**
 * The db with every prepare() counted through onPrepare: a view served from the status snapshot prepares none.
 */
export function countingPrepares(db: DB, onPrepare: () => void): DB {
  return new Proxy(db, {
    get(target, prop) {
      if (prop === 'prepare')
        return (sql: string) => {
          onPrepare();
          return target.prepare(sql);
        };
      const v = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

/** POSTs JSON to the app as an MX node (its bearer token), as the telemetry shipper does; asserts 200. */
export async function postAsNode(site: SiteServer, path: string, token: string, body: unknown): Promise<void> {
  const r = await site.get(path, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  assert.equal(r.status, 200, `${path}: ${await r.text()}`);
}

/** An event as a test writes it: the node numbers it when it sends. */
export type UnnumberedEvent = TelemetryEvent extends infer E ? (E extends TelemetryEvent ? Omit<E, 'seq'> : never) : never;

/** A test playing an MX node against the app: numbers its events, sends them in contract-sized batches, beats. */
export interface PlayedNode {
  /** The highest seq sent. */
  seq: number;
  batch(events: UnnumberedEvent[]): Promise<void>;
  /** A heartbeat at `at` reading an empty queue at the current seq, unless `hb` says otherwise. */
  beat(at: number, hb?: Partial<TelemetryHeartbeat>): Promise<void>;
}

export function playNode(site: SiteServer, token: string): PlayedNode {
  const node: PlayedNode = {
    seq: 0,
    async batch(events) {
      const after = node.seq;
      const numbered = events.map((e) => ({ ...e, seq: ++node.seq }));
      // Larger runs go as several batches, each after the last seq sent.
      for (let i = 0; i < numbered.length; i += TELEMETRY_MAX_BATCH) {
        const part = numbered.slice(i, i + TELEMETRY_MAX_BATCH);
        await postAsNode(site, '/api/v1/telemetry', token, { after: i === 0 ? after : numbered[i - 1].seq, events: part });
      }
    },
    beat: (at, hb) =>
      postAsNode(site, '/api/v1/telemetry/heartbeat', token, {
        at,
        queueDepth: 0,
        oldestQueuedMs: null,
        inRetry: 0,
        configVersion: 1,
        lastSyncAt: null,
        lastSeq: node.seq,
        ...hb,
      }),
  };
  return node;
}

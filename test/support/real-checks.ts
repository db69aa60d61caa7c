// The node's DATA-time checks as production composes them (mailsystem/checks/index.ts), against the real rspamd and
// clamd the tests started, with authentication through a test zone. One place, so every test that scans for real
// runs the same composition.
import { createAuthCheck } from '#mailsystem/checks/auth.ts';
import { createClamdClient } from '#mailsystem/checks/clamd.ts';
import { createChecks } from '#mailsystem/checks/index.ts';
import type { Checks } from '#mailsystem/checks/types.ts';
import { createRspamdClient } from '#mailsystem/checks/rspamd.ts';
import type { Clamd } from './clamd.ts';
import { type Zone, zoneResolver } from './dns-zone.ts';
import type { Rspamd } from './rspamd.ts';

export function realChecks(o: { rspamd: Rspamd; clamd: Clamd; zone: Zone; timeoutMs?: number; mtaName?: string }): Checks {
  const timeoutMs = o.timeoutMs ?? 10_000;
  return createChecks({
    authServIds: ['mx.test'],
    auth: createAuthCheck({ resolver: zoneResolver(o.zone), authServId: 'mx.test', timeoutMs: 5000 }),
    spam: createRspamdClient({ url: o.rspamd.url, timeoutMs, maxSockets: 4, ...(o.mtaName ? { mtaName: o.mtaName } : {}) }),
    virus: createClamdClient({
      host: '127.0.0.1',
      port: o.clamd.port,
      timeoutMs,
      maxConnections: 4,
      streamMaxLength: o.clamd.streamMaxLength,
    }),
  });
}

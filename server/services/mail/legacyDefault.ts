// The installation-wide old MX (TIDINGS_LEGACY_HOST/_PORT, issue 13): a domain that needs an old MX (legacy or shadow
// mode, or a pending switch to one) and is given none gets the installation's as its legacy host and port. Its records
// then carry them like any other, so nodes need no notion of a default.
//
// The backend records the value it runs with (installation_settings, backend migration 019; a change is also audited as
// mail.legacy-default) at start-up, whenever it differs from the last one: every process (backend, CLI, jobs) fills in that value, and a change moves the domains that have
// the old value (host and port) to the new one and re-sends their records, so nodes that synced the old get the new.
import type { LegacyDefault } from '#data/config.ts';
import type { DB } from '#data/db.ts';
import type { MigrationMode } from '#data/contracts/mail-config.ts';
import type { ServiceContext } from '../context.ts';
import { Invalid } from '../../domain/errors.ts';
import { writeAudit } from '../../store/audit.ts';
import { appendChange, domainRecord, listDomains, updateDomain } from '../../store/mail.ts';

const ACTION = 'mail.legacy-default';
const SETTING = 'legacy-default';
// Only the start-up step writes the row, so a process reads it once (a CLI process lives shorter than a backend).
const memo = new WeakMap<DB, LegacyDefault>();

/** The installation's old MX as the backend last started with it; null: none (or never recorded). */
export function installationLegacyDefault(db: DB): LegacyDefault {
  if (memo.has(db)) return memo.get(db)!;
  const raw = db.prepare('SELECT value FROM installation_settings WHERE key = ?').pluck().get(SETTING) as string | undefined;
  const value = raw === undefined ? null : (JSON.parse(raw) as LegacyDefault);
  memo.set(db, value);
  return value;
}

interface LegacyTarget {
  name: string;
  legacyHost: string | null;
  legacyPort: number | null;
}

/**
 * The domain's legacy host and port for `mode`: its own, else (legacy and shadow only) the installation's. Refuses
 * legacy and shadow when there is neither, naming `field`.
 */
export function withRelay<T extends LegacyTarget>(db: DB, d: T, mode: MigrationMode, field: string): T {
  if (mode === 'active' || d.legacyHost !== null) return d;
  const def = installationLegacyDefault(db);
  if (def) return { ...d, legacyHost: def.host, legacyPort: def.port };
  throw new Invalid(
    `Legacy and shadow modes relay to the old MX, so ${d.name} needs a legacyHost first (the installation has no TIDINGS_LEGACY_HOST).`,
    [{ field, message: 'legacy and shadow modes need a legacyHost' }],
  );
}

const same = (a: LegacyDefault, b: LegacyDefault) => a?.host.toLowerCase() === b?.host.toLowerCase() && a?.port === b?.port;

/**
 * At backend start-up: when the configured value differs from the recorded one, records it (an audit row by the
 * system) and, when both are set, moves every domain on the old value to the new one and re-sends its record, in one
 * transaction. Unset, the domains on the old value keep it as their own. Returns the moved domains.
 */
export function publishLegacyDefault(ctx: ServiceContext, configured: LegacyDefault): string[] {
  return ctx.db
    .transaction(() => {
      memo.delete(ctx.db);
      const recorded = installationLegacyDefault(ctx.db);
      if (same(recorded, configured)) return [];
      const now = ctx.clock().toISOString();
      const moved =
        recorded && configured ? listDomains(ctx.db).filter((d) => same({ host: d.legacyHost ?? '', port: d.legacyPort }, recorded)) : [];
      for (const d of moved) {
        const updated = updateDomain(ctx.db, { ...d, legacyHost: configured!.host, legacyPort: configured!.port }, now);
        appendChange(ctx.db, { entity: 'domain', key: d.name, op: 'upsert', record: domainRecord(updated) }, now);
      }
      const detail = { from: recorded, to: configured, domains: moved.map((d) => d.name) };
      ctx.db
        .prepare('INSERT INTO installation_settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value')
        .run(SETTING, JSON.stringify(configured));
      writeAudit(ctx.db, { at: now, userId: null, actor: 'system', action: ACTION, target: null, detail: JSON.stringify(detail) });
      memo.set(ctx.db, configured);
      return detail.domains;
    })
    .immediate();
}

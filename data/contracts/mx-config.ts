// The payload of GET /api/v1/mx/config?since=<version>: the configuration changes an MX node has not applied yet.
import { z } from 'zod';
import { MigrationMode, DeliveryKind } from './mail-config.ts';
import { PolicySettings, POLICY_LEVELS } from './mail-policy.ts';

/**
 * A switch of a domain's mode that has not been made the domain's recorded mode yet (issue 13). `at` is its effective
 * time in ms since the epoch; a node applies it at that time from its replica, with or without the backend.
 */
export const ScheduledSwitch = z.object({ mode: MigrationMode, at: z.number().int().nonnegative() });
export type ScheduledSwitch = z.infer<typeof ScheduledSwitch>;

export const DomainRecord = z.object({
  name: z.string(),
  /** The recorded mode: the domain's mode until the first of `switches` takes effect. */
  mode: MigrationMode,
  legacyHost: z.string().nullable(),
  legacyPort: z.number().int().nullable(),
  catchAll: z.string().nullable(),
  /** Pending switches in any order; absent: none (and from backends older than them). */
  switches: z.array(ScheduledSwitch).max(100).optional(),
});

/** The mode in force at `now`: the latest switch whose effective time has come, else the recorded mode. */
export function modeAt(record: Pick<DomainRecord, 'mode' | 'switches'>, now: number): MigrationMode {
  let best: ScheduledSwitch | undefined;
  for (const s of record.switches ?? []) if (s.at <= now && (!best || s.at >= best.at)) best = s;
  return best ? best.mode : record.mode;
}
export type DomainRecord = z.infer<typeof DomainRecord>;

export const MailboxRecord = z.object({
  address: z.string(),
  domain: z.string(),
  delivery: DeliveryKind,
  lmtpHost: z.string().nullable(),
  lmtpPort: z.number().int().nullable(),
});
export type MailboxRecord = z.infer<typeof MailboxRecord>;

export const AliasRecord = z.object({
  address: z.string(),
  domain: z.string(),
  targets: z.array(z.string()).min(1),
  keepLocalCopy: z.boolean(),
});
export type AliasRecord = z.infer<typeof AliasRecord>;

/**
 * One level's spam/virus/DMARC settings (data/contracts/mail-policy.ts). The key says the level: `*` is the installation,
 * a domain name a hosted domain, an address a hosted mailbox or alias; so a delete, which carries only the key, needs no scope.
 */
export const PolicyScope = z.enum(POLICY_LEVELS);
export type PolicyScope = z.infer<typeof PolicyScope>;
export const INSTALLATION_POLICY_KEY = '*';
export function policyScopeOf(key: string): PolicyScope {
  return key === INSTALLATION_POLICY_KEY ? 'installation' : key.includes('@') ? 'address' : 'domain';
}
export const PolicyRecord = z
  .object({ scope: PolicyScope, key: z.string().min(1), settings: PolicySettings })
  .refine((r) => policyScopeOf(r.key) === r.scope, { message: 'the key does not belong to the scope', path: ['key'] });
export type PolicyRecord = z.infer<typeof PolicyRecord>;

export const CONFIG_ENTITIES = ['domain', 'mailbox', 'alias', 'policy'] as const;
export type ConfigEntity = (typeof CONFIG_ENTITIES)[number];

const version = z.number().int().positive();

/** An upsert carries the whole record, so replaying the log from 0 rebuilds the configuration. */
export const ConfigChange = z.discriminatedUnion('op', [
  z.discriminatedUnion('entity', [
    z.object({ version, op: z.literal('upsert'), entity: z.literal('domain'), key: z.string(), record: DomainRecord }),
    z.object({ version, op: z.literal('upsert'), entity: z.literal('mailbox'), key: z.string(), record: MailboxRecord }),
    z.object({ version, op: z.literal('upsert'), entity: z.literal('alias'), key: z.string(), record: AliasRecord }),
    z.object({ version, op: z.literal('upsert'), entity: z.literal('policy'), key: z.string(), record: PolicyRecord }),
  ]),
  z.object({ version, op: z.literal('delete'), entity: z.enum(CONFIG_ENTITIES), key: z.string() }),
]);
export type ConfigChange = z.infer<typeof ConfigChange>;

export const MxConfigPayload = z.object({
  since: z.number().int().nonnegative(),
  /** The version the node is at after applying `changes`. */
  version: z.number().int().nonnegative(),
  /** True when more changes are waiting: ask again with since=version. */
  more: z.boolean(),
  /** True when the node's version is newer than the backend's log (a restored backend): drop the replica and replay. */
  reset: z.boolean().default(false),
  changes: z.array(ConfigChange),
});
export type MxConfigPayload = z.infer<typeof MxConfigPayload>;

export const MX_CONFIG_PAGE = 500;

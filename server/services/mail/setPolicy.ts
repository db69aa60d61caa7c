// Sets the spam/virus/DMARC settings of one level (the installation, a hosted domain, a hosted mailbox or alias);
// what a level leaves out it inherits. Empty settings remove the level's row. Audited and logged for the nodes.
import { PolicySettings } from '#data/contracts/mail-policy.ts';
import type { ServiceContext, Actor } from '../context.ts';
import { Invalid } from '../../domain/errors.ts';
import { upsertPolicy, policyRecord, type Policy } from '../../store/mail.ts';
import { recordChange } from './record.ts';
import { dropPolicy, policyKey } from './policyLevel.ts';

export function setPolicy({
  ctx,
  actor,
  scope: rawScope,
  key: rawKey,
  settings: rawSettings,
}: {
  ctx: ServiceContext;
  actor: Actor;
  scope: unknown;
  key: string;
  settings: unknown;
}): Policy | null {
  const parsed = PolicySettings.safeParse(rawSettings);
  if (!parsed.success) {
    throw new Invalid(
      'The policy settings are not valid.',
      parsed.error.issues.flatMap((i) =>
        i.code === 'unrecognized_keys'
          ? i.keys.map((k) => ({ field: [...i.path, k].join('.'), message: 'unknown setting' }))
          : [{ field: i.path.join('.') || 'settings', message: i.message }],
      ),
    );
  }
  // undefined members are left out, not stored: a level inherits what it does not set.
  const settings = Object.fromEntries(Object.entries(parsed.data).filter(([, v]) => v !== undefined)) as PolicySettings;
  const now = ctx.clock().toISOString();
  return ctx.db
    .transaction(() => {
      const { scope, key } = policyKey(ctx, rawScope, rawKey);
      if (Object.keys(settings).length === 0) {
        dropPolicy(ctx, actor, key, now);
        return null;
      }
      const p = upsertPolicy(ctx.db, { scope, key, settings }, now);
      recordChange(ctx, actor, { entity: 'policy', key, op: 'upsert', record: policyRecord(p) }, 'mail.policy.set', now);
      return p;
    })
    .immediate();
}

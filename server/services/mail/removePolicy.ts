// Removes one level's policy settings: that level then inherits everything.
import type { ServiceContext, Actor } from '../context.ts';
import { NotFound } from '../../domain/errors.ts';
import { findPolicy } from '../../store/mail.ts';
import { dropPolicy, policyKey } from './policyLevel.ts';

export function removePolicy({ ctx, actor, scope, key: rawKey }: { ctx: ServiceContext; actor: Actor; scope: unknown; key: string }): void {
  const now = ctx.clock().toISOString();
  ctx.db
    .transaction(() => {
      // The installation's row can always be removed; a domain's or address's only while it is hosted (otherwise it has none).
      const { key } = policyKey(ctx, scope, rawKey);
      if (!findPolicy(ctx.db, key)) throw new NotFound(`No policy is set at ${key === '*' ? 'the installation' : key}.`);
      dropPolicy(ctx, actor, key, now);
    })
    .immediate();
}

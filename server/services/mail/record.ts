// Every mail configuration write leaves two traces in its own transaction: a change-log entry for the nodes and an audit row.
import type { ConfigEntity } from '#data/contracts/mx-config.ts';
import type { ServiceContext, Actor } from '../context.ts';
import { appendChange } from '../../store/mail.ts';
import { writeAudit } from '../../store/audit.ts';

export function recordChange(
  ctx: ServiceContext,
  actor: Actor,
  change: { entity: ConfigEntity; key: string; op: 'upsert' | 'delete'; record?: object },
  action: string,
  now: string,
): number {
  const version = appendChange(ctx.db, change, now);
  const detail = JSON.stringify({ version, ...(change.record ? { record: change.record } : {}) });
  writeAudit(ctx.db, { at: now, userId: actor.userId, actor: actor.name, action, target: change.key, detail });
  return version;
}

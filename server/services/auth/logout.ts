// Ends one session (the one presenting the cookie), audited.
import type { ServiceContext, Actor } from '../context.ts';
import { deleteSession } from '../../store/sessions.ts';
import { writeAudit } from '../../store/audit.ts';

export function logout({ ctx, actor, sessionHash }: { ctx: ServiceContext; actor: Actor; sessionHash: string }): void {
  const at = ctx.clock().toISOString();
  ctx.db
    .transaction(() => {
      deleteSession(ctx.db, sessionHash);
      writeAudit(ctx.db, { at, userId: actor.userId, actor: actor.name, action: 'logout' });
    })
    .immediate();
}

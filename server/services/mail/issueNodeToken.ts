// Issues (or rotates) the bearer token an MX node uses to fetch its configuration; only the hash is kept.
import { createHash, randomBytes } from 'node:crypto';
import type { ServiceContext, Actor } from '../context.ts';
import { Invalid } from '../../domain/errors.ts';
import { isNodeName, NODE_NAME_RULE } from '../../domain/mx-node.ts';
import { upsertNodeToken } from '../../store/mail.ts';
import { writeAudit } from '../../store/audit.ts';

export function hashNodeToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function issueNodeToken({ ctx, actor, name }: { ctx: ServiceContext; actor: Actor; name: string }): string {
  if (!isNodeName(name)) throw new Invalid(`A node name is ${NODE_NAME_RULE}.`, [{ field: 'name', message: 'invalid node name' }]);
  const token = `mxn_${randomBytes(32).toString('base64url')}`;
  const now = ctx.clock().toISOString();
  ctx.db
    .transaction(() => {
      upsertNodeToken(ctx.db, name, hashNodeToken(token), now);
      writeAudit(ctx.db, { at: now, userId: actor.userId, actor: actor.name, action: 'mail.node-token.issue', target: name });
    })
    .immediate();
  return token;
}

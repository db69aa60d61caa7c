// The key of a policy level (canonical, hosted) and the policy removals that go with removing what a level belongs to.
import { INSTALLATION_POLICY_KEY, PolicyScope } from '#data/contracts/mx-config.ts';
import { Address, DomainName } from '#data/contracts/mail-config.ts';
import type { ServiceContext, Actor } from '../context.ts';
import { Invalid, NotFound } from '../../domain/errors.ts';
import { findDomain, findMailbox, findAlias, deletePolicy } from '../../store/mail.ts';
import { recordChange } from './record.ts';

/** The canonical key of a level, or Invalid; NotFound when the domain or address is not hosted. Call inside the transaction. */
export function policyKey(ctx: ServiceContext, scope: unknown, rawKey: string): { scope: PolicyScope; key: string } {
  const s = PolicyScope.safeParse(scope);
  if (!s.success)
    throw new Invalid('A policy scope is installation, domain or address.', [{ field: 'scope', message: s.error.issues[0].message }]);
  if (s.data === 'installation') {
    if (rawKey !== INSTALLATION_POLICY_KEY)
      throw new Invalid(`The installation's policy has the key "${INSTALLATION_POLICY_KEY}".`, [{ field: 'key', message: 'must be *' }]);
    return { scope: s.data, key: INSTALLATION_POLICY_KEY };
  }
  if (s.data === 'domain') {
    const d = DomainName.safeParse(rawKey);
    if (!d.success)
      throw new Invalid('The key of a domain policy is a domain name.', [{ field: 'key', message: d.error.issues[0].message }]);
    if (!findDomain(ctx.db, d.data)) throw new NotFound(`The domain ${d.data} is not hosted.`);
    return { scope: s.data, key: d.data };
  }
  const a = Address.safeParse(rawKey);
  if (!a.success) throw new Invalid('The key of an address policy is an address.', [{ field: 'key', message: a.error.issues[0].message }]);
  if (!findMailbox(ctx.db, a.data) && !findAlias(ctx.db, a.data))
    throw new NotFound(`There is no mailbox or alias ${a.data}; a policy is set on a hosted address.`);
  return { scope: s.data, key: a.data };
}

/** Deletes the policy row of `key` when there is one, logging the delete for the nodes; false when there was none. */
export function dropPolicy(ctx: ServiceContext, actor: Actor, key: string, now: string): boolean {
  if (!deletePolicy(ctx.db, key)) return false;
  recordChange(ctx, actor, { entity: 'policy', key, op: 'delete' }, 'mail.policy.remove', now);
  return true;
}

/** After a mailbox or alias at `address` is deleted: its policy goes too, unless the other kind still lives there. */
export function dropAddressPolicyIfUnhosted(ctx: ServiceContext, actor: Actor, address: string, now: string): void {
  if (findMailbox(ctx.db, address) || findAlias(ctx.db, address)) return;
  dropPolicy(ctx, actor, address, now);
}

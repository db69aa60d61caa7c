// The effective policy of a hosted address as the nodes compute it (installation → domain → address), with the
// source of each setting and each level's own settings, for the API, the CLI and the staff page.
import { splitAddress } from '#data/address.ts';
import type { DB } from '#data/db.ts';
import { effectivePolicy, type EffectivePolicy, type PolicySettings } from '#data/contracts/mail-policy.ts';
import { INSTALLATION_POLICY_KEY } from '#data/contracts/mx-config.ts';
import { NotFound } from '../../domain/errors.ts';
import { findAlias, findDomain, findMailbox, findPolicy } from '../../store/mail.ts';

export interface AddressPolicy extends EffectivePolicy {
  address: string;
  domain: string;
  /** Each level's own settings ({} where the level sets nothing). */
  levels: { installation: PolicySettings; domain: PolicySettings; address: PolicySettings };
}

/** `address` is canonical (the Address schema's output). NotFound unless a mailbox or alias lives there. */
export function addressPolicy(db: DB, address: string): AddressPolicy {
  const domain = splitAddress(address)?.domain ?? '';
  if (!findDomain(db, domain) || (!findMailbox(db, address) && !findAlias(db, address))) {
    throw new NotFound(`There is no mailbox or alias ${address}.`);
  }
  const levels = {
    installation: findPolicy(db, INSTALLATION_POLICY_KEY)?.settings ?? {},
    domain: findPolicy(db, domain)?.settings ?? {},
    address: findPolicy(db, address)?.settings ?? {},
  };
  return { address, domain, levels, ...effectivePolicy(levels) };
}

// Mail addresses: split at the last @, fold the case-insensitive parts, check the syntax we host; used by the API, CLI and MX nodes.

export interface AddressParts {
  /** As written: a local part may be case-sensitive at its home (RFC 5321 §2.4). */
  local: string;
  /** As written; fold it with foldDomain or canonicalAddress before comparing. */
  domain: string;
}

/**
 * Splits at the last @, since a quoted local part may hold one (`"a@b"@example.com`).
 * Null when there is no @ or either side is empty. Neither side is changed: SRS, for one,
 * must give back a sender exactly as it came.
 */
export function splitAddress(address: string): AddressParts | null {
  const at = address.lastIndexOf('@');
  if (at <= 0 || at === address.length - 1) return null;
  return { local: address.slice(0, at), domain: address.slice(at + 1) };
}

/**
 * Domains are case-insensitive everywhere; a local part may not be at its home, so it keeps
 * its spelling (a forward to `Ext.User@Provider.Test` goes to `Ext.User@provider.test`).
 * A string without @ comes back unchanged.
 */
export function foldDomain(address: string): string {
  const at = address.lastIndexOf('@');
  return at < 0 ? address : `${address.slice(0, at)}@${address.slice(at + 1).toLowerCase()}`;
}

/** Addresses we host are case-insensitive by our choice, local part too: one lower-case spelling for storage and lookups. */
export function canonicalAddress(address: string): string {
  return address.trim().toLowerCase();
}

/** LDH labels, at least two of them, lower case; IDNs arrive as A-labels (xn--), which this pattern already admits. */
export const DOMAIN_NAME_PATTERN = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
// Dot-atom local parts only: quoted local parts are legal but nobody hosts mailboxes under them.
const LOCAL_PART_PATTERN = /^(?=.{1,64}$)[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;

/** RFC 5321 §4.5.3.1.3: a path is at most 256 octets, two of them the angle brackets. */
export const MAX_ADDRESS_LENGTH = 254;

/** A domain name we can host, in any case (`Example.COM` passes; fold it before storing). */
export function isDomainName(name: string): boolean {
  return DOMAIN_NAME_PATTERN.test(name.toLowerCase());
}

/**
 * An address we can host or forward to, in any case: a dot-atom local part of ASCII, an LDH
 * domain (IDNs as A-labels), at most 254 characters. No surrounding spaces, no quoted local part.
 */
export function isHostableAddress(address: string): boolean {
  const parts = address.length <= MAX_ADDRESS_LENGTH ? splitAddress(address) : null;
  return parts !== null && LOCAL_PART_PATTERN.test(parts.local.toLowerCase()) && isDomainName(parts.domain);
}

// MAIL/RCPT command checks smtp-server does not make: raw 8-bit bytes, parameters we never
// advertised, and the canonical form of an address (unneeded quotes, the bare postmaster).
import { isUtf8 } from 'node:buffer';
import { splitAddress } from '#data/address.ts';
import { REPLIES, type Reply } from './replies.ts';

export type AddressCommand = 'MAIL' | 'RCPT';

/** What the raw command line was, before smtp-server decoded it as UTF-8 (invalid bytes → U+FFFD). */
export type CommandBytes = 'ascii' | 'utf8' | 'invalid-utf8';

export function commandBytes(raw: Buffer): CommandBytes {
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] >= 0x80) return isUtf8(raw) ? 'utf8' : 'invalid-utf8';
  }
  return 'ascii';
}

/**
 * The parameters of the extensions we advertise (SIZE, 8BITMIME, SMTPUTF8). DSN, REQUIRETLS and
 * AUTH are not offered, so RET/ENVID/NOTIFY/ORCPT/REQUIRETLS/AUTH= are as unknown as FOO=BAR.
 */
const KNOWN_PARAMS: Record<AddressCommand, ReadonlySet<string>> = {
  MAIL: new Set(['SIZE', 'BODY', 'SMTPUTF8']),
  RCPT: new Set(),
};

export interface EnvelopeRefusal {
  reply: Reply;
  reason: 'unknown-parameter' | 'non-ascii-address' | 'invalid-utf8-address';
  detail: Record<string, unknown>;
}

export interface AddressCommandFacts {
  command: AddressCommand;
  bytes: CommandBytes;
  /** Parameter names as smtp-server parsed them (upper case). */
  params: string[];
  /** MAIL: this command's SMTPUTF8; RCPT: the transaction's (RFC 6531 §3.4). */
  smtpUtf8: boolean;
}

/** The first reason to refuse the command, or null. */
export function checkAddressCommand(facts: AddressCommandFacts): EnvelopeRefusal | null {
  const unknown = facts.params.find((p) => !KNOWN_PARAMS[facts.command].has(p));
  if (unknown !== undefined)
    return {
      reply: REPLIES.unknownParameter,
      reason: 'unknown-parameter',
      detail: { command: facts.command, parameter: unknown.slice(0, 64) },
    };
  // Decoded, such bytes would be stored as U+FFFD: a sender that no DSN could ever reach.
  if (facts.bytes === 'invalid-utf8')
    return { reply: REPLIES.invalidUtf8Address, reason: 'invalid-utf8-address', detail: { command: facts.command } };
  if (facts.bytes === 'utf8' && !facts.smtpUtf8)
    return { reply: REPLIES.nonAsciiAddress, reason: 'non-ascii-address', detail: { command: facts.command } };
  return null;
}

// RFC 5322 atext, plus any non-ASCII character (RFC 6532 UTF8-non-ascii).
const DOT_ATOM = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\u0080-\u{10ffff}]+(?:\.[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\u0080-\u{10ffff}]+)*$/u;

/**
 * `"box1"@example.com` is the same mailbox as `box1@example.com` (RFC 5321 §4.1.2: quoting that
 * is not needed changes nothing), so the quotes go; a local part that does need them keeps them.
 */
export function unquoteLocalPart(address: string): string {
  const parts = splitAddress(address);
  if (!parts || parts.local.length < 2 || !parts.local.startsWith('"') || !parts.local.endsWith('"')) return address;
  const unquoted = parts.local.slice(1, -1).replace(/\\(.)/gu, '$1');
  return DOT_ATOM.test(unquoted) ? `${unquoted}@${parts.domain}` : address;
}

/**
 * RFC 5321 §4.5.1: `RCPT TO:<postmaster>` without a domain must be accepted. It goes to the
 * postmaster of this MX's own hostname (what Postfix does by appending $myorigin): the people
 * who run this node, not those of whichever hosted domain happens to be first.
 */
export function qualifyBarePostmaster(address: string, mxHostname: string): string {
  return address.toLowerCase() === 'postmaster' ? `postmaster@${mxHostname.toLowerCase()}` : address;
}

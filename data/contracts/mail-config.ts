// Shapes and syntax rules of the mail configuration (domains, mailboxes, aliases), shared by API, CLI, nodes and site.
import { z } from 'zod';
import { canonicalAddress, DOMAIN_NAME_PATTERN, foldDomain, isHostableAddress, MAX_ADDRESS_LENGTH } from '../address.ts';

export const MIGRATION_MODES = ['legacy', 'shadow', 'active'] as const;
export const MigrationMode = z.enum(MIGRATION_MODES);
export type MigrationMode = z.infer<typeof MigrationMode>;

export const DELIVERY_KINDS = ['maildir', 'lmtp'] as const;
export const DeliveryKind = z.enum(DELIVERY_KINDS);
export type DeliveryKind = z.infer<typeof DeliveryKind>;

export const DomainName = z.string().trim().toLowerCase().regex(DOMAIN_NAME_PATTERN, 'must be a domain name such as example.com');
// The length issue alone for an over-long string: "must be an address" on top of it says nothing more.
const AddressSyntax = z
  .string()
  .trim()
  .max(MAX_ADDRESS_LENGTH, { abort: true })
  .refine(isHostableAddress, 'must be an address such as user@example.com');

/** An address we host (domain, mailbox, alias, catch-all): one canonical lower-case spelling. */
export const Address = AddressSyntax.transform(canonicalAddress);

/**
 * An alias target, internal or at an external provider. Only the domain is case-insensitive
 * everywhere; a local part may be case-sensitive at its home (RFC 5321 §2.4), so a forward
 * keeps it as written. Internal targets resolve case-insensitively on the node.
 */
export const AliasTarget = AddressSyntax.transform(foldDomain);

export const Port = z.number().int().min(1).max(65535);
export const HostName = z
  .string()
  .trim()
  .min(1)
  .max(253)
  .regex(/^[A-Za-z0-9.:-]+$/, 'must be a host name or IP address');

/**
 * legacy and shadow modes need a legacyHost unless the installation has one (TIDINGS_LEGACY_HOST): the backend checks
 * that (server/services/mail/legacyDefault.ts), as this shape cannot know the installation's settings.
 */
export const DomainInput = z.strictObject({
  name: DomainName,
  mode: MigrationMode.default('active'),
  legacyHost: HostName.nullable().default(null),
  legacyPort: Port.nullable().default(null),
  catchAll: Address.nullable().default(null),
});
export type DomainInput = z.output<typeof DomainInput>;

export const DomainPatch = z.strictObject({
  mode: MigrationMode.optional(),
  legacyHost: HostName.nullable().optional(),
  legacyPort: Port.nullable().optional(),
  catchAll: Address.nullable().optional(),
});
export type DomainPatch = z.output<typeof DomainPatch>;

export const MailboxInput = z
  .strictObject({
    address: Address,
    delivery: DeliveryKind.default('maildir'),
    lmtpHost: HostName.nullable().default(null),
    lmtpPort: Port.nullable().default(null),
  })
  .refine((m) => (m.delivery === 'maildir' ? m.lmtpHost === null && m.lmtpPort === null : m.lmtpHost !== null && m.lmtpPort !== null), {
    message: 'lmtp delivery needs lmtpHost and lmtpPort; maildir delivery takes neither',
    path: ['delivery'],
  });
export type MailboxInput = z.output<typeof MailboxInput>;

export const AliasInput = z.strictObject({
  address: Address,
  targets: z
    .array(AliasTarget)
    .min(1)
    .max(100)
    .transform((t) => [...new Set(t)]),
  keepLocalCopy: z.boolean().default(false),
});
export type AliasInput = z.output<typeof AliasInput>;

// The contract between SMTP ingress and the node's mail configuration: who is hosted, where mail goes, under which policy.
import type { EffectivePolicy } from '#data/contracts/mail-policy.ts';

/** Where one accepted recipient's copy is delivered. */
export type Route =
  | { kind: 'maildir'; mailbox: string } // built-in Maildir store; mailbox = canonical local address
  | { kind: 'lmtp'; mailbox: string; host: string; port: number } // e.g. Dovecot LMTP
  | { kind: 'forward'; to: string } // external provider via SMTP (SRS-rewritten sender)
  | { kind: 'legacy'; host: string; port: number }; // old MX during migration (relay as-is)

export type Resolution =
  /**
   * policy: the effective spam/virus/DMARC policy of the recipient (installation → domain → address, each setting with
   * its source). The address level is the matched address's own (an alias's, not its targets'); a catch-all hit, an
   * SRS bounce and the built-in postmaster take the domain's (or the installation's) settings.
   */
  | {
      status: 'ok';
      address: string;
      routes: Route[];
      policy: EffectivePolicy;
      /**
       * Set for an address of a legacy or shadow domain that has no imported configuration: only the legacy system
       * knows whether it exists, so ingress asks it (mailsystem/legacy/probe.ts) before accepting the recipient.
       */
      verify?: { host: string; port: number };
    }
  | { status: 'unknown-user' } // hosted domain, no such address → 550 5.1.1
  | { status: 'not-hosted' }; // → 550 5.7.1 relaying denied

export interface Directory {
  /** Resolves an envelope recipient (aliases, catch-all, plus-addressing) to its delivery routes. */
  resolve(address: string): Resolution;
  isHostedDomain(domain: string): boolean;
}

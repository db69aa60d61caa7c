// The contract between SMTP ingress and the node's mail configuration: who is hosted, where mail goes, under which policy.
import type { MigrationMode } from '#data/contracts/mail-config.ts';
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
      /**
       * The mode of the recipient's domain in force now (config/mode.ts); absent: active. A legacy or shadow recipient
       * is relayed to the old MX as it is: the new system's checks and policies do not act on it.
       */
      mode?: MigrationMode;
      /** Shadow mode: what the new system would have done, for the dry run. */
      shadow?: ShadowPlan;
    }
  | { status: 'unknown-user' } // hosted domain, no such address → 550 5.1.1
  | { status: 'not-hosted' }; // → 550 5.7.1 relaying denied

/** A shadow recipient's dry run: the new system's routes and policy for it, or null when it does not know the address. */
export interface ShadowPlan {
  domain: string;
  /** The matched address (the report's per-address key). */
  address: string;
  next: { routes: Route[]; policy: EffectivePolicy } | null;
}

export interface Directory {
  /**
   * Resolves an envelope recipient (aliases, catch-all, plus-addressing) to its delivery routes. `at` (ms, default now)
   * is the instant whose migration modes apply: a transaction passes its own, so a switch never splits one.
   */
  resolve(address: string, at?: number): Resolution;
  isHostedDomain(domain: string): boolean;
}

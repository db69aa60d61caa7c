// A domain's migration mode applied to an address (issue 13), as one pure function: the Directory first resolves the
// address the way the new system would (as if the domain were active), then this decides what the node does with it.
// - active: the new system's routes.
// - legacy: relay to the old MX as it is. Whether the address exists comes from the domain's imported configuration
//   when it has any (the new system's answer), otherwise the old MX must confirm it at RCPT (`verify`).
// - shadow: as legacy, plus the new system's answer kept as a dry run (`shadow`): what it would have done.
import type { MigrationMode } from '#data/contracts/mail-config.ts';
import type { Route } from './directory.ts';

export type LegacyRoute = Extract<Route, { kind: 'legacy' }>;

/** An address resolved to routes: what the new system would do, or (after applyMode) what this node does. */
export interface Expansion {
  routes: Route[];
  matched: string;
  /** Resolved through the domain's catch-all: the matched address has no settings of its own. */
  catchAll?: boolean;
  /** A legacy/shadow domain without imported configuration: the legacy system must confirm the address. */
  verify?: { host: string; port: number };
  /** Set when the address is relayed to the old MX as it is: its domain's mode (legacy or shadow). */
  mode?: 'legacy' | 'shadow';
  /** Shadow mode, envelope recipient only: the new system's own answer (null: it does not know the address). */
  shadow?: { next: Expansion | null };
}

export interface ModeInput {
  mode: MigrationMode;
  /** The address as looked up (lower-case). */
  address: string;
  /** Where the domain's old MX is. */
  legacy: LegacyRoute;
  /** The new system's expansion of the address, the domain taken as active; null: unknown to it. */
  next: Expansion | null;
  /** Whether the domain has imported configuration (any mailbox or alias of it). */
  imported: boolean;
  /** 0 for the envelope recipient; deeper for an alias target, which is our own configuration, not a sender's input. */
  depth: number;
}

export function applyMode(i: ModeInput): Expansion | null {
  if (i.mode === 'active') return i.next;
  const { host, port } = i.legacy;
  let relay: Expansion | null;
  if (i.imported) relay = i.next && { routes: [i.legacy], matched: i.next.matched, catchAll: i.next.catchAll };
  else if (i.depth === 0) relay = { routes: [i.legacy], matched: i.address, verify: { host, port } };
  else relay = { routes: [i.legacy], matched: i.address };
  if (!relay) return null;
  relay.mode = i.mode;
  if (i.mode === 'shadow' && i.depth === 0) relay.shadow = { next: i.next };
  return relay;
}

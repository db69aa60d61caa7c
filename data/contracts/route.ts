// How a delivery leaves an MX node: its own module, as both the telemetry contract and the quarantine contract (which
// the telemetry contract imports) name it.
import { z } from 'zod';

/** How a delivery left the node. */
export const ROUTE_KINDS = ['maildir', 'lmtp', 'forward', 'legacy'] as const;
export const RouteKind = z.enum(ROUTE_KINDS);
export type RouteKind = z.infer<typeof RouteKind>;

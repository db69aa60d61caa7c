// How an MX node and one of its deliveries are named, in one place for the node-token service, the quarantine API, the
// staff quarantine page and the CLI.
import { z } from 'zod';

/** An MX node's name (issueNodeToken): what its token is issued for, and how staff name it. */
export const NODE_NAME = /^[A-Za-z0-9._-]{1,64}$/;
export const NODE_NAME_RULE = '1-64 letters, digits, dots, dashes or underscores';
export const isNodeName = (s: string): boolean => NODE_NAME.test(s);
export const NodeName = z.string().regex(NODE_NAME, `must be an MX node name: ${NODE_NAME_RULE}`);

/** A node's delivery id as text: a positive whole number of at most 15 digits (a safe integer). */
export const DELIVERY_ID = /^[1-9]\d{0,14}$/;
/** The delivery id `s` names, or null when it names none. */
export const parseDeliveryId = (s: string): number | null => (DELIVERY_ID.test(s) ? Number(s) : null);
export const DeliveryId = z.string().regex(DELIVERY_ID, 'must be a positive whole number').transform(Number);

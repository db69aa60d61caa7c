// Forwarding loop defence: too many Received hops, or a Delivered-To showing the message already passed this address.

/** The header block of a message: everything before the first empty line. */
export function headerBlock(message: Buffer): string {
  const end = message.indexOf('\r\n\r\n');
  const alt = message.indexOf('\n\n');
  const cut = end >= 0 ? end : alt >= 0 ? alt : Math.min(message.length, 256 * 1024);
  return message.subarray(0, cut).toString('latin1');
}

/** Values of one header field (unfolded), in order. */
export function headerValues(headers: string, name: string): string[] {
  const out: string[] = [];
  const re = new RegExp(`^${name}:[ \\t]*(.*(?:\\r?\\n[ \\t].*)*)`, 'gim');
  for (const m of headers.matchAll(re)) out.push(m[1].replace(/\r?\n[ \t]+/g, ' ').trim());
  return out;
}

export type LoopVerdict = { loop: false } | { loop: true; response: string };

export function checkForwardLoop(message: Buffer, recipient: string, maxHops: number): LoopVerdict {
  const headers = headerBlock(message);
  const hops = headerValues(headers, 'Received').length;
  if (hops > maxHops) return { loop: true, response: `5.4.6 too many hops (${hops} Received headers): probable mail loop` };
  const mine = recipient.toLowerCase();
  const seen = headerValues(headers, 'Delivered-To').map((v) => v.replace(/^<|>$/g, '').toLowerCase());
  if (seen.includes(mine)) return { loop: true, response: `5.4.6 mail forwarding loop for <${recipient}>` };
  return { loop: false };
}

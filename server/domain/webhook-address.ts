// Which addresses a webhook may be sent to: the public internet only, unless the operator allows private ones
// (TIDINGS_WEBHOOK_ALLOW_PRIVATE). Pure: the sender resolves the host and checks every address here before connecting.
import { BlockList, isIPv4, isIPv6 } from 'node:net';

const V4: [string, number, string][] = [
  ['0.0.0.0', 8, 'this network'],
  ['10.0.0.0', 8, 'private'],
  ['100.64.0.0', 10, 'carrier-grade NAT'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link-local'],
  ['172.16.0.0', 12, 'private'],
  ['192.0.0.0', 24, 'IETF protocol assignments'],
  ['192.0.2.0', 24, 'documentation'],
  ['192.88.99.0', 24, '6to4 relay'],
  ['192.168.0.0', 16, 'private'],
  ['198.18.0.0', 15, 'benchmarking'],
  ['198.51.100.0', 24, 'documentation'],
  ['203.0.113.0', 24, 'documentation'],
  ['224.0.0.0', 4, 'multicast'],
  ['240.0.0.0', 4, 'reserved'],
];
const V6: [string, number, string][] = [
  ['::', 128, 'unspecified'],
  ['::1', 128, 'loopback'],
  ['100::', 64, 'discard-only'],
  ['2001::', 23, 'IETF protocol assignments'],
  ['2001:db8::', 32, 'documentation'],
  ['fc00::', 7, 'unique-local'],
  ['fe80::', 10, 'link-local'],
  ['fec0::', 10, 'site-local'],
  ['ff00::', 8, 'multicast'],
];

interface Block {
  list: BlockList;
  type: 'ipv4' | 'ipv6';
  why: string;
}
const block =
  (type: Block['type']) =>
  ([net, prefix, why]: [string, number, string]): Block => {
    const list = new BlockList();
    list.addSubnet(net, prefix, type);
    return { list, type, why };
  };
const BLOCKS: Block[] = [...V4.map(block('ipv4')), ...V6.map(block('ipv6'))];

/** The IPv4 address an IPv6 one carries (mapped ::ffff:a.b.c.d, NAT64 64:ff9b::/96, 6to4 2002::/16), if any. */
function embeddedV4(ip: string): string | null {
  const words = expandV6(ip);
  if (!words) return null;
  const v4 = (hi: number, lo: number) => `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  const zeros = (n: number) => words.slice(0, n).every((w) => w === 0);
  if (zeros(5) && words[5] === 0xffff) return v4(words[6], words[7]); // ::ffff:0:0/96
  if (zeros(6)) return v4(words[6], words[7]); // deprecated IPv4-compatible ::a.b.c.d
  if (words[0] === 0x64 && words[1] === 0xff9b && words.slice(2, 6).every((w) => w === 0)) return v4(words[6], words[7]);
  if (words[0] === 0x2002) return v4(words[1], words[2]);
  return null;
}

/** The eight 16-bit words of an IPv6 address (a trailing dotted IPv4 part included), or null. */
function expandV6(ip: string): number[] | null {
  let s = ip.toLowerCase().replace(/%.*$/, '');
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number);
    s = `${s.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = s.includes('::') ? s.split('::') : [s, null];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const fill = tail === null ? 0 : 8 - h.length - t.length;
  const all = [...h, ...Array(fill).fill('0'), ...t];
  if (all.length !== 8) return null;
  return all.map((w) => Number.parseInt(w, 16));
}

/**
 * Why an address must not be reached without TIDINGS_WEBHOOK_ALLOW_PRIVATE ("loopback", "private", ...), or null for a
 * public address. Anything that is not an IP address at all is refused too.
 */
export function forbiddenAddressReason(ip: string): string | null {
  const bare = ip.replace(/^\[|\]$/g, '');
  if (isIPv4(bare)) return BLOCKS.find((x) => x.type === 'ipv4' && x.list.check(bare, 'ipv4'))?.why ?? null;
  if (!isIPv6(bare)) return 'not an IP address';
  const direct = BLOCKS.find((x) => x.type === 'ipv6' && x.list.check(bare, 'ipv6'))?.why;
  if (direct) return direct;
  const v4 = embeddedV4(bare);
  const why = v4 ? forbiddenAddressReason(v4) : null;
  return why ? `${why} (in IPv6)` : null;
}

// A fake resolver as data (after mox's dns/mock.go): a zone map, plus injectable failures per name; also served over UDP.
import { createSocket } from 'node:dgram';
import type { Resolver, MxRecord } from '#mailsystem/dns/resolver.ts';

export interface Zone {
  mx?: Record<string, MxRecord[]>;
  a?: Record<string, string[]>;
  aaaa?: Record<string, string[]>;
  /**
   * TXT records (SPF, DKIM keys under `<selector>._domainkey`, `_dmarc`), ASCII: each record either one
   * string or its character-strings; a string longer than 255 characters is answered as 255-character
   * strings, as a real zone has to publish it (both by zoneResolver and over UDP).
   */
  txt?: Record<string, (string | string[])[]>;
  /** Names that answer with this error code (e.g. ESERVFAIL) for every query. */
  fail?: Record<string, string>;
}

function characterStrings(record: string | string[]): string[] {
  const out: string[] = [];
  for (const s of typeof record === 'string' ? [record] : record) {
    for (let at = 0; at === 0 || at < s.length; at += 255) out.push(s.slice(at, at + 255));
  }
  return out;
}

function dnsError(code: string, name: string): Error {
  return Object.assign(new Error(`${code} ${name}`), { code, hostname: name });
}

export function zoneResolver(zone: Zone): Resolver & { queries: string[] } {
  const queries: string[] = [];
  const key = (n: string) => n.toLowerCase().replace(/\.$/, '');
  const known = (n: string) => [zone.mx, zone.a, zone.aaaa, zone.txt].some((t) => t && key(n) in t);
  function lookup<T>(type: string, table: Record<string, T[]> | undefined, name: string): Promise<T[]> {
    queries.push(`${type} ${key(name)}`);
    const failure = zone.fail?.[key(name)];
    if (failure) return Promise.reject(dnsError(failure, name));
    const hit = table?.[key(name)];
    if (hit) return Promise.resolve(hit);
    return Promise.reject(dnsError(known(name) ? 'ENODATA' : 'ENOTFOUND', name));
  }
  return {
    queries,
    resolveMx: (n) => lookup('MX', zone.mx, n),
    resolve4: (n) => lookup('A', zone.a, n),
    resolve6: (n) => lookup('AAAA', zone.aaaa, n),
    resolveTxt: (n) => lookup('TXT', zone.txt, n).then((records) => records.map(characterStrings)),
  };
}

export interface DnsServer {
  port: number;
  /** "TYPE name" of every question asked, in order. */
  queries: string[];
  close(): Promise<void>;
}

const TYPES: Record<number, 'MX' | 'A' | 'AAAA' | 'TXT'> = { 1: 'A', 15: 'MX', 16: 'TXT', 28: 'AAAA' };

/** TXT RDATA: each character-string (at most 255 bytes, see characterStrings) as a length byte and its bytes. */
function txtRdata(strings: string[]): Buffer {
  return Buffer.concat(strings.map((s) => Buffer.concat([Buffer.from([s.length]), Buffer.from(s, 'latin1')])));
}

function encodeName(name: string): Buffer {
  const labels = name.replace(/\.$/, '').split('.').filter(Boolean);
  return Buffer.concat([...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'latin1')])), Buffer.from([0])]);
}

function ipv6Bytes(address: string): Buffer {
  const [head, tail = ''] = address.split('::');
  const groups = (s: string): string[] => (s ? s.split(':') : []);
  const h = groups(head);
  const t = address.includes('::') ? groups(tail) : [];
  const all = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  for (const [i, g] of all.entries()) out.writeUInt16BE(parseInt(g, 16), i * 2);
  return out;
}

function record(type: number, rdata: Buffer): Buffer {
  const head = Buffer.alloc(12);
  head.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's
  head.writeUInt16BE(type, 2);
  head.writeUInt16BE(1, 4); // class IN
  head.writeUInt32BE(60, 6); // TTL
  head.writeUInt16BE(rdata.length, 10);
  return Buffer.concat([head, rdata]);
}

/**
 * The same zone served over real DNS (UDP on 127.0.0.1, port 0) for processes that take name servers
 * by address, such as mailsystem/main.ts with TIDINGS_DNS_SERVERS. Answers come from zoneResolver, so
 * both speak the same zone rules: unknown names NXDOMAIN, known names without the type NODATA,
 * `fail` names SERVFAIL.
 */
export async function startDnsServer(zone: Zone): Promise<DnsServer> {
  const resolver = zoneResolver(zone);
  const queries: string[] = [];
  const socket = createSocket('udp4');
  socket.on('message', (query, peer) => {
    void (async () => {
      if (query.length < 12 || query.readUInt16BE(4) !== 1) return;
      // The question: labels up to the zero byte, then type and class.
      const labels: string[] = [];
      let at = 12;
      while (at < query.length && query[at] !== 0) {
        labels.push(query.subarray(at + 1, at + 1 + query[at]).toString('latin1'));
        at += 1 + query[at];
      }
      const end = at + 5;
      if (end > query.length) return;
      const name = labels.join('.');
      const type = TYPES[query.readUInt16BE(at + 1)];
      queries.push(`${type ?? query.readUInt16BE(at + 1)} ${name.toLowerCase()}`);
      let rcode = 0;
      let answers: Buffer[] = [];
      try {
        if (type === 'MX') {
          answers = (await resolver.resolveMx(name)).map((mx) => {
            const pref = Buffer.alloc(2);
            pref.writeUInt16BE(mx.priority);
            return record(15, Buffer.concat([pref, encodeName(mx.exchange)]));
          });
        } else if (type === 'A') {
          answers = (await resolver.resolve4(name)).map((ip) => record(1, Buffer.from(ip.split('.').map(Number))));
        } else if (type === 'AAAA') {
          answers = (await resolver.resolve6(name)).map((ip) => record(28, ipv6Bytes(ip)));
        } else if (type === 'TXT') {
          answers = (await resolver.resolveTxt(name)).map((strings) => record(16, txtRdata(strings)));
        }
      } catch (err) {
        const code = (err as { code?: string }).code;
        rcode = code === 'ENOTFOUND' ? 3 : code === 'ENODATA' ? 0 : 2;
      }
      const header = Buffer.alloc(12);
      query.copy(header, 0, 0, 2); // id
      header.writeUInt16BE(0x8000 | 0x0400 | (query.readUInt16BE(2) & 0x0100) | 0x0080 | rcode, 2); // QR AA RD RA rcode
      header.writeUInt16BE(1, 4);
      header.writeUInt16BE(answers.length, 6);
      socket.send(Buffer.concat([header, query.subarray(12, end), ...answers]), peer.port, peer.address);
    })();
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  return {
    port: socket.address().port,
    queries,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

// Header hygiene at the trust boundary (pure): drop incoming header fields that would impersonate our own
// results, then prepend ours. Works on the header block only and copies every kept field byte for byte,
// so the body and any DKIM signature over the kept fields stay intact.
//
// What is removed:
// - Authentication-Results fields whose authserv-id is one of ours (RFC 8601 §5: an MTA MUST remove the
//   fields that claim its authserv-id; every node of the installation shares the trust boundary, so the
//   ids of all our MX names count), and fields whose authserv-id cannot be read (we cannot tell they are
//   not ours). Fields of other authserv-ids are kept: downstream readers trust only ours (§5 and §7.1),
//   they record what another ADMD found (a forwarder's results, useful to staff), and removing fields
//   that a signature covers would break it for nothing.
// - Every X-Spam*, X-Virus* and X-Rspamd* field (X-Spam-Flag, X-Spam-Status, X-Spamd-Result,
//   X-Virus-Scanned…): those names are our scanners' verdict headers; a sender's copy would pass for ours.
//
// What is kept: ARC-Authentication-Results. It is part of an ARC set sealed by the sealing domain's
// ARC-Seal; readers trust it through that seal (RFC 8617 §7), not through its authserv-id, and removing
// one breaks the chain for every later verifier (ours included when a forward is sealed).

/** Field names our own scanners write; an incoming field with such a name is never kept. */
function isScannerHeaderName(name: string): boolean {
  return /^x-(spam|virus|rspamd)/i.test(name);
}

/** The authserv-id of an Authentication-Results value (RFC 8601 §2.2), lower-cased; null when unreadable. */
export function authServIdOf(value: string): string | null {
  let s = value.replace(/\r?\n(?=[ \t])/g, '');
  // Leading CFWS: white space and (possibly nested) comments.
  for (;;) {
    s = s.replace(/^[ \t]+/, '');
    if (s[0] !== '(') break;
    let depth = 0;
    let i = 0;
    for (; i < s.length; i++) {
      if (s[i] === '\\') i++;
      else if (s[i] === '(') depth++;
      else if (s[i] === ')' && --depth === 0) break;
    }
    if (depth !== 0) return null;
    s = s.slice(i + 1);
  }
  const quoted = /^"((?:[^"\\]|\\.)*)"/.exec(s);
  const id = quoted ? quoted[1].replace(/\\(.)/g, '$1') : /^[^\s;()"]+/.exec(s)?.[0];
  return id ? id.toLowerCase().replace(/\.$/, '') : null;
}

interface Field {
  /** Field name as written (trailing white space before the colon removed); '' for a line that is no field. */
  name: string;
  /** The field's bytes (latin1), continuation lines and line ends included. */
  raw: string;
}

function splitFields(block: string): Field[] {
  const fields: Field[] = [];
  for (const line of block.match(/[^\n]*\n|[^\n]+$/g) ?? []) {
    const last = fields.at(-1);
    if ((line[0] === ' ' || line[0] === '\t') && last) {
      last.raw += line;
      continue;
    }
    const colon = line.indexOf(':');
    fields.push({ name: colon > 0 ? line.slice(0, colon).replace(/[ \t]+$/, '') : '', raw: line });
  }
  return fields;
}

/** Where the body side starts: the index of the empty line ending the header block, or the length when there is none. */
function bodyStart(message: Buffer): number {
  if (message[0] === 0x0a || (message[0] === 0x0d && message[1] === 0x0a)) return 0;
  const ends = [message.indexOf('\n\r\n'), message.indexOf('\n\n')].filter((i) => i >= 0);
  return ends.length ? Math.min(...ends) + 1 : message.length;
}

export interface HygieneOptions {
  /** Our authserv-ids (this node's MX host name, and those of the other nodes of the installation). */
  authServIds: string | string[];
  /** Header fields to prepend, e.g. our Authentication-Results; line ends are normalised to the message's. */
  prepend?: string[];
}

/**
 * The message with forged result fields removed and `prepend` put on top. Kept fields stay in their
 * order and byte for byte; the body (from the empty line on) is not touched.
 */
export function cleanHeaders(message: Buffer, opts: HygieneOptions): Buffer {
  const ours = new Set([opts.authServIds].flat().map((id) => id.toLowerCase().replace(/\.$/, '')));
  const split = bodyStart(message);
  const block = message.subarray(0, split).toString('latin1');
  const kept = splitFields(block).filter((f) => {
    if (isScannerHeaderName(f.name)) return false;
    if (f.name.toLowerCase() === 'authentication-results') {
      const id = authServIdOf(f.raw.slice(f.raw.indexOf(':') + 1));
      return id !== null && !ours.has(id);
    }
    return true;
  });
  return prependFields(
    Buffer.concat([Buffer.from(kept.map((f) => f.raw).join(''), 'latin1'), message.subarray(split)]),
    opts.prepend ?? [],
  );
}

/** Header fields put on top of a message, their line ends normalised to the message's own. */
export function prependFields(message: Buffer, fields: string[]): Buffer {
  if (fields.length === 0) return message;
  const firstLf = message.indexOf('\n');
  const eol = firstLf > 0 && message[firstLf - 1] === 0x0d ? '\r\n' : firstLf >= 0 ? '\n' : '\r\n';
  const head = fields.map((h) => `${h.replace(/(\r?\n)+$/, '').replace(/\r?\n/g, eol)}${eol}`).join('');
  return Buffer.concat([Buffer.from(head, 'utf8'), message]);
}

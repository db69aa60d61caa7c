// What the backend's quarantine index shows of one quarantined copy (data/contracts/quarantine.ts QuarantineEntry):
// the Subject (RFC 2047 words decoded), the envelope, where a release takes it, the size and the scanners' verdict.
// Every string is cleaned of control characters and cut to the contract's limits here, on the node: the telemetry
// ingest refuses a whole batch that holds one control character (server/http/validate.ts), and a refused batch stops
// the node's shipping. Only quarantined copies pay for this, and they pay it before the queue's group commit
// (mailsystem/smtp/checked-data.ts builds the record): inside the commit the queue only adds the delivery id and the
// stored size to JSON text built here (entryDetail).
import { QUARANTINE_SUBJECT_MAX, QUARANTINE_SYMBOLS_MAX, type QuarantineEntry } from '#data/contracts/quarantine.ts';
// The backend refuses a batch holding one of these (server/http/validate.ts): the same rule, from data/.
import { CONTROL_CHARACTERS } from '#data/contracts/text.ts';
import type { Route } from '#mailsystem/config/directory.ts';
import type { QuarantineRecord } from '#mailsystem/queue/store.ts';

const LINE_BREAKS = /[\t\r\n]+/g;

/** Limits of the QuarantineEntry schema. */
const ADDRESS_MAX = 320;
const SYMBOL_MAX = 128;
const VIRUS_MAX = 200;
/** Raw header bytes read (a Subject's, a sample's): far more than QUARANTINE_SUBJECT_MAX characters even when every one is encoded. */
const SUBJECT_RAW_MAX = 16 * 1024;

/** One line of text: control characters removed, tabs and line breaks made spaces, lone surrogates replaced. */
export function cleanText(s: string): string {
  return s.toWellFormed().replace(LINE_BREAKS, ' ').replace(CONTROL_CHARACTERS, '');
}

/** At most `max` UTF-16 units (zod's length), never splitting a surrogate pair; `ellipsis` appends '…' when cut. */
export function cut(s: string, max: number, ellipsis: 'beyond' | 'within'): string {
  if (s.length <= max) return s;
  let end = ellipsis === 'within' ? max - 1 : max;
  const last = s.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${s.slice(0, end)}…`;
}

/** Where the header block ends: the offset of the empty line, or the body's length without one. */
function headerEnd(body: Buffer): number {
  for (let i = body.indexOf(0x0a); i >= 0 && i < body.length; i = body.indexOf(0x0a, i + 1)) {
    const next = body[i + 1];
    if (next === 0x0a || (next === 0x0d && body[i + 2] === 0x0a)) return i + 1;
  }
  return body.length;
}

// One decoder per charset for the process: decode() without {stream} keeps no state between calls.
const UTF8_FATAL = new TextDecoder('utf-8', { fatal: true });
const DECODERS = new Map<string, TextDecoder>();

/** Bytes as text: UTF-8 when they are (RFC 6532 headers), else Latin-1 (every byte kept as one character). */
function bytesText(bytes: Buffer): string {
  try {
    return UTF8_FATAL.decode(bytes);
  } catch {
    return bytes.toString('latin1');
  }
}

/** The first `name` field (lower-case, e.g. 'subject') of the header block, unfolded, as text; null when there is none. */
export function rawHeader(body: Buffer, name: string): string | null {
  const prefix = `${name}:`;
  const n = prefix.length;
  const end = headerEnd(body);
  for (let line = 0; line < end; ) {
    const nl = body.indexOf(0x0a, line);
    const lineEnd = nl < 0 || nl >= end ? end : nl + 1;
    if (
      lineEnd - line >= n &&
      body
        .subarray(line, line + n)
        .toString('latin1')
        .toLowerCase() === prefix
    ) {
      // The field runs on over continuation lines (those starting with a blank).
      let fieldEnd = lineEnd;
      while (fieldEnd < end && (body[fieldEnd] === 0x20 || body[fieldEnd] === 0x09)) {
        const next = body.indexOf(0x0a, fieldEnd);
        fieldEnd = next < 0 || next >= end ? end : next + 1;
      }
      const value = body.subarray(line + n, Math.min(fieldEnd, line + n + SUBJECT_RAW_MAX));
      return bytesText(value)
        .replace(/\r?\n(?=[ \t])/g, '')
        .replace(/\r?\n$/, '')
        .trim();
    }
    line = lineEnd;
  }
  return null;
}

const ENCODED_WORD = /=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=/g;

function wordBytes(encoding: string, text: string): Buffer {
  if (encoding === 'b' || encoding === 'B') return Buffer.from(text, 'base64');
  // Q: '_' is a space, =XX a byte, anything else itself (RFC 2047 §4.2).
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '_') out.push(0x20);
    else if (c === '=' && /^[0-9A-Fa-f]{2}$/.test(text.slice(i + 1, i + 3))) {
      out.push(Number.parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else out.push(text.charCodeAt(i) & 0xff);
  }
  return Buffer.from(out);
}

function decoder(charset: string): TextDecoder | null {
  // RFC 2231 allows a language after the charset: =?utf-8*en?q?...?=
  const name = charset.split('*')[0];
  const known = DECODERS.get(name);
  if (known) return known;
  try {
    const dec = new TextDecoder(name);
    // Only names the runtime knows are kept (a few hundred labels at most); an unknown name is not, so a sender
    // cannot grow the map.
    DECODERS.set(name, dec);
    return dec;
  } catch {
    return null;
  }
}

/**
 * RFC 2047 encoded-words decoded (B and Q, any charset the runtime knows); the blanks between two adjacent words go
 * (§6.2), and adjacent words of one charset are decoded together, so a character split across them survives. A word
 * in an unknown charset is left as written.
 */
export function decodeWords(value: string): string {
  const parts: string[] = [];
  let pending = null as { decoder: TextDecoder; charset: string; bytes: Buffer[] } | null;
  let last = 0;
  const flush = (): void => {
    if (!pending) return;
    parts.push(pending.decoder.decode(Buffer.concat(pending.bytes)));
    pending = null;
  };
  for (const m of value.matchAll(ENCODED_WORD)) {
    const [word, charset, encoding, text] = m;
    const key = charset.toLowerCase();
    // A word in a charset the runtime does not know stays text, with the blanks around it.
    const dec = decoder(key);
    if (dec === null) continue;
    const between = value.slice(last, m.index);
    last = m.index + word.length;
    // Blanks between two encoded words are not part of the text.
    const adjacent = pending !== null && /^[ \t]*$/.test(between);
    if (adjacent && pending?.charset === key) {
      pending.bytes.push(wordBytes(encoding, text));
      continue;
    }
    flush();
    if (!adjacent) parts.push(between);
    pending = { decoder: dec, charset: key, bytes: [wordBytes(encoding, text)] };
  }
  flush();
  parts.push(value.slice(last));
  return parts.join('');
}

/** The Subject as the index shows it: decoded, cleaned and cut to QUARANTINE_SUBJECT_MAX (then '…'); null without one. */
export function quarantineSubject(body: Buffer): string | null {
  const raw = rawHeader(body, 'subject');
  if (raw === null) return null;
  return cut(cleanText(decodeWords(raw)).trim(), QUARANTINE_SUBJECT_MAX, 'beyond');
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Score, symbols and virus name from the verdict record the checks wrote (mailsystem/checks/index.ts verdictRecord:
 * {spam: {score, symbols: [{name, score}]}, virus: {result, name}}); read defensively, as it is stored as JSON.
 */
export function verdictSummary(verdict: Record<string, unknown>): Pick<QuarantineEntry, 'score' | 'symbols' | 'virus'> {
  const spam = isObject(verdict.spam) ? verdict.spam : {};
  const virus = isObject(verdict.virus) ? verdict.virus : {};
  const score = typeof spam.score === 'number' && Number.isFinite(spam.score) ? spam.score : null;
  const listed = Array.isArray(spam.symbols) ? spam.symbols : [];
  const scored: { name: string; score: number }[] = [];
  for (const s of listed) {
    const name = typeof s === 'string' ? s : isObject(s) && typeof s.name === 'string' ? s.name : '';
    const clean = cut(cleanText(name).trim(), SYMBOL_MAX, 'within');
    if (clean === '') continue;
    scored.push({ name: clean, score: isObject(s) && typeof s.score === 'number' && Number.isFinite(s.score) ? s.score : 0 });
  }
  // rspamd's client sorts them already (highest first); a stable sort keeps that order among equals.
  scored.sort((a, b) => b.score - a.score);
  const symbols = [...new Set(scored.map((s) => s.name))].slice(0, QUARANTINE_SYMBOLS_MAX);
  const name = typeof virus.name === 'string' ? cut(cleanText(virus.name).trim(), VIRUS_MAX, 'within') : '';
  return { score, symbols, virus: name === '' ? null : name };
}

/** Where a release would take the copy: the route's kind and its target (QuarantineEntry route, target). */
export function releaseTarget(route: Route): Pick<QuarantineEntry, 'route' | 'target'> {
  const raw = route.kind === 'forward' ? route.to : route.kind === 'legacy' ? `${route.host}:${route.port}` : route.mailbox;
  const target = cut(cleanText(raw), ADDRESS_MAX, 'within');
  return { route: route.kind, target: target === '' ? '?' : target };
}

export interface EntryInput {
  deliveryId: number;
  recipient: string;
  /** The copy's route: a release sends it there. */
  route: Route;
  sender: string;
  /** From quarantineSubject (computed once per message, shared by its quarantined copies). */
  subject: string | null;
  size: number;
  verdict: Record<string, unknown>;
}

/** Everything of the entry but the delivery id and the stored size, which the queue knows only when it stores the copy. */
export type EntryDraft = Omit<QuarantineEntry, 'deliveryId' | 'size'>;

/** What every kept-back copy of one message shares in its entry: computed once per message. */
type MessagePart = Pick<EntryDraft, 'sender' | 'subject' | 'score' | 'symbols' | 'virus'>;

function messagePart(input: { sender: string; subject: string | null; verdict: Record<string, unknown> }): MessagePart {
  return { sender: cut(cleanText(input.sender), ADDRESS_MAX, 'within'), subject: input.subject, ...verdictSummary(input.verdict) };
}

function copyDraft(recipient: string, route: Route, shared: MessagePart): EntryDraft {
  const clean = cut(cleanText(recipient), ADDRESS_MAX, 'within');
  // An accepted recipient is never empty; the schema wants one character at least.
  return { recipient: clean === '' ? '?' : clean, ...releaseTarget(route), ...shared };
}

export function entryDraft(input: Omit<EntryInput, 'deliveryId' | 'size'>): EntryDraft {
  return copyDraft(input.recipient, input.route, messagePart(input));
}

export function quarantineEntry(input: EntryInput): QuarantineEntry {
  return { deliveryId: input.deliveryId, size: input.size, ...entryDraft(input) };
}

/**
 * The records of one message's kept-back copies, as the queue stores them, built before the queue's transaction: the
 * verdict and each entry's draft as JSON text, so that the commit encodes nothing of them. What the copies share (the
 * verdict's JSON and summary, the sender, the subject) is worked out once, by the first record asked for.
 */
export function quarantineRecorder(message: {
  verdict: Record<string, unknown>;
  sender: string;
  subject: () => string | null;
}): (reason: 'spam' | 'virus', recipient: string, route: Route) => QuarantineRecord {
  let shared: { verdict: string; part: MessagePart } | undefined;
  return (reason, recipient, route) => {
    shared ??= {
      verdict: JSON.stringify(message.verdict),
      part: messagePart({ sender: message.sender, subject: message.subject(), verdict: message.verdict }),
    };
    return { reason, verdict: shared.verdict, entry: JSON.stringify(copyDraft(recipient, route, shared.part)) };
  };
}

/** One kept-back copy's record (quarantineRecorder for a message with one). */
export function quarantineRecord(input: {
  reason: 'spam' | 'virus';
  verdict: Record<string, unknown>;
  recipient: string;
  route: Route;
  sender: string;
  subject: string | null;
}): QuarantineRecord {
  const { subject } = input;
  return quarantineRecorder({ verdict: input.verdict, sender: input.sender, subject: () => subject })(
    input.reason,
    input.recipient,
    input.route,
  );
}

/**
 * The 'quarantined' event's detail JSON, {"entry": QuarantineEntry}: the draft's JSON (an object with at least its
 * recipient) with the delivery id and the stored size put in front, without parsing or encoding it again.
 */
export function entryDetail(draftJson: string, deliveryId: number, size: number): string {
  return `{"entry":{"deliveryId":${deliveryId},"size":${size},${draftJson.slice(1)}}`;
}

// Reads POST /api/v1/telemetry's body into a TelemetryBatch. A batch of 1,000 events is checked field by field on
// every request, so the shapes a node sends are checked here by hand in one pass; anything else takes the general
// path (control characters, batch size, the zod schema), which decides, and names the fields in its 400.
import { PURGE_REASONS, QUARANTINE_REFUSALS, QUARANTINE_SUBJECT_MAX, QUARANTINE_SYMBOLS_MAX } from '#data/contracts/quarantine.ts';
import { SHADOW_HEADER_MAX, SHADOW_PAIRS, SHADOW_VERDICTS, type ShadowVerdictKind } from '#data/contracts/shadow.ts';
import { BOUNCE_REASONS, REJECT_REASONS, ROUTE_KINDS, TELEMETRY_MAX_BATCH, TelemetryBatch } from '#data/contracts/telemetry.ts';
import { Problem } from './problem.ts';
import { CONTROL_CHARACTER, parseChecked, refuseControlCharacters } from './validate.ts';

const ROUTES: ReadonlySet<unknown> = new Set(ROUTE_KINDS);
const REJECT: ReadonlySet<unknown> = new Set(REJECT_REASONS);
const BOUNCE: ReadonlySet<unknown> = new Set(BOUNCE_REASONS);
const PURGE: ReadonlySet<unknown> = new Set(PURGE_REASONS);
const REFUSAL: ReadonlySet<unknown> = new Set(QUARANTINE_REFUSALS);
const SHADOW_VERDICT: ReadonlySet<unknown> = new Set(SHADOW_VERDICTS);

/** z.number().int().positive(): zod's int() is a safe integer. */
const isSeq = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v > 0;
/** z.number().int().nonnegative() */
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
/** z.string().min(1), and no control character (which the general path refuses before its schema runs). */
const isMessageId = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && !CONTROL_CHARACTER.test(v);
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Own enumerable keys (a JSON.parse result has no others), counted without building an array. */
function keyCount(o: object): number {
  let n = 0;
  for (const _ in o) n++;
  return n;
}

type Check = (v: unknown) => boolean;
const isRoute: Check = (v) => ROUTES.has(v);
const isRejectReason: Check = (v) => REJECT.has(v);
const isBounceReason: Check = (v) => BOUNCE.has(v);
const isPurgeReason: Check = (v) => PURGE.has(v);
const isRefusal: Check = (v) => REFUSAL.has(v);
/** A string of at most `max` UTF-16 units (zod's length) and at least `min`, with no control character. */
const isText = (v: unknown, min: number, max: number): v is string =>
  typeof v === 'string' && v.length >= min && v.length <= max && !CONTROL_CHARACTER.test(v);

/**
 * A quarantined event's entry, field by field as the contract's QuarantineEntry has it (its strings come from mail:
 * each with its limit, and no control character, which the general path refuses first), and no other field. Under a
 * 'remove' policy nearly every batch holds one, so it is checked here rather than sending the batch down the general
 * path. test/unit/telemetry-batch.test.ts holds it against the schema on valid and broken entries.
 */
const isEntry: Check = (v) => {
  if (!isRecord(v) || keyCount(v) !== 10) return false;
  const { subject, score, symbols, virus } = v;
  if (
    !isSeq(v.deliveryId) ||
    !isText(v.recipient, 1, 320) ||
    !ROUTES.has(v.route) ||
    !isText(v.target, 1, 320) ||
    !isText(v.sender, 0, 320) ||
    !(subject === null || isText(subject, 0, QUARANTINE_SUBJECT_MAX + 1)) ||
    !isCount(v.size) ||
    !(score === null || (typeof score === 'number' && Number.isFinite(score))) ||
    !(virus === null || isText(virus, 1, 200)) ||
    !Array.isArray(symbols) ||
    symbols.length > QUARANTINE_SYMBOLS_MAX
  )
    return false;
  for (const s of symbols) if (!isText(s, 1, 128)) return false;
  return true;
};

/** A shadow sample's header: null, or a string of at most SHADOW_HEADER_MAX + 1 units with no control character. */
const isHeader = (v: unknown): boolean => v === null || isText(v, 0, SHADOW_HEADER_MAX + 1);

/**
 * A shadow-verdict event's verdict, as the contract's ShadowVerdict has it: its strings with their limits, a reason that
 * belongs to the verdict (SHADOW_PAIRS), and a sample of exactly the four headers. A domain in shadow mode sends one per
 * recipient of every message, so it is checked here. test/unit/telemetry-batch.test.ts holds it against the schema.
 */
const isShadowVerdict: Check = (v) => {
  if (!isRecord(v) || keyCount(v) !== 6) return false;
  const { score, sample } = v;
  return (
    isText(v.domain, 1, 253) &&
    isText(v.address, 1, 320) &&
    SHADOW_VERDICT.has(v.verdict) &&
    SHADOW_PAIRS[v.verdict as ShadowVerdictKind].includes(v.reason as never) &&
    (score === null || (typeof score === 'number' && Number.isFinite(score))) &&
    isRecord(sample) &&
    keyCount(sample) === 4 &&
    isHeader(sample.from) &&
    isHeader(sample.subject) &&
    isHeader(sample.date) &&
    isHeader(sample.messageId)
  );
};

/**
 * Each event type's fields besides seq, at and type, as the contract's TelemetryEvent has them: required, and
 * optional (absent, or valid). test/unit/telemetry-batch.test.ts compares this table with the zod schema's shapes, so
 * a field added to the contract fails that test until it is added here.
 */
export const QUICK_SHAPES: ReadonlyMap<string, { required: readonly [string, Check][]; optional: readonly [string, Check][] }> = new Map([
  ['accepted', { required: [['messageId', isMessageId]], optional: [['deliveries', isCount]] }],
  ['rejected', { required: [['reason', isRejectReason]], optional: [] }],
  [
    'delivered',
    {
      required: [
        ['messageId', isMessageId],
        ['route', isRoute],
        ['latencyMs', isCount],
      ],
      optional: [],
    },
  ],
  [
    'deferred',
    {
      required: [
        ['messageId', isMessageId],
        ['route', isRoute],
      ],
      optional: [],
    },
  ],
  [
    'bounced',
    {
      required: [
        ['messageId', isMessageId],
        ['route', isRoute],
        ['reason', isBounceReason],
      ],
      optional: [],
    },
  ],
  [
    'quarantined',
    {
      required: [['messageId', isMessageId]],
      optional: [
        ['reason', isRejectReason],
        ['entry', isEntry],
      ],
    },
  ],
  ['discarded', { required: [['messageId', isMessageId]], optional: [['reason', isRejectReason]] }],
  ['dsn', { required: [['messageId', isMessageId]], optional: [['deliveries', isCount]] }],
  [
    'released',
    {
      required: [
        ['messageId', isMessageId],
        ['deliveryId', isSeq],
        ['actionId', isSeq],
      ],
      optional: [],
    },
  ],
  [
    'purged',
    {
      required: [
        ['messageId', isMessageId],
        ['deliveryId', isSeq],
        ['reason', isPurgeReason],
      ],
      optional: [['actionId', isSeq]],
    },
  ],
  [
    'quarantine-refused',
    {
      required: [
        ['deliveryId', isSeq],
        ['actionId', isSeq],
        ['why', isRefusal],
      ],
      optional: [['messageId', isMessageId]],
    },
  ],
  [
    'shadow-verdict',
    {
      required: [
        ['messageId', isMessageId],
        ['verdict', isShadowVerdict],
      ],
      optional: [],
    },
  ],
]);

/**
 * The batch, when `value` (a JSON.parse result) is one the general path (`checkedBatch`) would accept as it is:
 * every field the contract's TelemetryBatch names, valid, no other field anywhere, no control character, at most
 * TELEMETRY_MAX_BATCH events in seq order. Otherwise null, and the general path decides. The answer is the value
 * itself, which then equals what the zod schema would return (it strips unknown fields, and there are none).
 * test/unit/telemetry-batch.test.ts holds this against the general path on valid and invalid batches.
 */
export function quickBatch(value: unknown): TelemetryBatch | null {
  if (!isRecord(value) || keyCount(value) !== 2) return null;
  const { after, events } = value;
  if (!isCount(after) || !Array.isArray(events) || events.length < 1 || events.length > TELEMETRY_MAX_BATCH) return null;
  let prev = after;
  for (let i = 0; i < events.length; i++) {
    const e: unknown = events[i];
    if (!isRecord(e) || !isSeq(e.seq) || e.seq <= prev || !isCount(e.at)) return null;
    prev = e.seq;
    const shape = QUICK_SHAPES.get(e.type as string);
    if (!shape) return null;
    // seq, at, type and the shape's fields, every one present and valid: a key count that matches means no other.
    let fields = 3 + shape.required.length;
    for (const [name, check] of shape.required) if (!check(e[name])) return null;
    for (const [name, check] of shape.optional) {
      const v = e[name];
      if (v === undefined) continue;
      if (!check(v)) return null;
      fields++;
    }
    if (keyCount(e) !== fields) return null;
  }
  return value as TelemetryBatch;
}

/**
 * The general path, for any JSON value: a control character anywhere is a 400, more than TELEMETRY_MAX_BATCH events
 * a 413 (counted before the schema runs, so a huge batch is not parsed field by field first), then the schema's 400s.
 */
export function checkedBatch(value: unknown): TelemetryBatch {
  refuseControlCharacters(value);
  const events = (value as { events?: unknown } | null)?.events;
  if (Array.isArray(events) && events.length > TELEMETRY_MAX_BATCH)
    throw new Problem(
      413,
      'Content Too Large',
      `A batch holds at most ${TELEMETRY_MAX_BATCH} events; this one has ${events.length}. Send smaller batches.`,
      [{ field: 'events', message: `at most ${TELEMETRY_MAX_BATCH} events` }],
    );
  return parseChecked(TelemetryBatch, value, 'telemetry batch');
}

/** A JSON.parse result as a batch: the hand-written check when it takes it, the general path otherwise. */
export function toBatch(value: unknown): TelemetryBatch {
  return quickBatch(value) ?? checkedBatch(value);
}

// A strict parser of the Prometheus text exposition format (version 0.0.4), for tests that scrape /metrics. It
// refuses what a Prometheus server would refuse and what the naming conventions forbid: unknown or repeated TYPE and
// HELP lines, samples before their TYPE or split from their family, bad names or label escapes, repeated series,
// histograms whose buckets are not ascending, not cumulative, do not end in le="+Inf" or disagree with _count,
// and counters whose names do not end in _total.

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: MetricType;
  help: string | null;
  samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set<MetricType>(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

export class ExpositionError extends Error {}

function fail(lineNo: number, message: string): never {
  throw new ExpositionError(`line ${lineNo}: ${message}`);
}

function unescapeHelp(s: string, lineNo: number): string {
  return s.replace(/\\(.?)/g, (_m, c: string) => {
    if (c === '\\') return '\\';
    if (c === 'n') return '\n';
    return fail(lineNo, `bad escape "\\${c}" in HELP`);
  });
}

/** A float as Go's strconv.ParseFloat reads it (the format says so): NaN and Inf in any letter case, e.g. "Nan". */
function parseValue(raw: string, lineNo: number): number {
  const word = raw.toLowerCase();
  if (word === 'nan') return Number.NaN;
  if (word === '+inf' || word === 'inf' || word === '+infinity' || word === 'infinity') return Number.POSITIVE_INFINITY;
  if (word === '-inf' || word === '-infinity') return Number.NEGATIVE_INFINITY;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(raw)) fail(lineNo, `bad value "${raw}"`);
  return Number(raw);
}

/** The labels in braces starting at text[0] === '{'; returns them and the rest of the line after '}'. */
function parseLabels(text: string, lineNo: number): { labels: Record<string, string>; rest: string } {
  const labels: Record<string, string> = {};
  let i = 1;
  for (;;) {
    if (text[i] === '}') return { labels, rest: text.slice(i + 1) };
    const nameMatch = /^[^=]*/.exec(text.slice(i));
    const name = (nameMatch?.[0] ?? '').trim();
    if (!LABEL_NAME.test(name)) fail(lineNo, `bad label name "${name}"`);
    if (name.startsWith('__')) fail(lineNo, `label name "${name}" is reserved`);
    if (name in labels) fail(lineNo, `label "${name}" repeated`);
    i += (nameMatch?.[0] ?? '').length;
    if (text[i] !== '=' || text[i + 1] !== '"') fail(lineNo, `expected ="..." after label "${name}"`);
    i += 2;
    let value = '';
    for (;;) {
      const c = text[i];
      if (c === undefined) fail(lineNo, `unterminated value of label "${name}"`);
      if (c === '"') break;
      if (c === '\\') {
        const e = text[i + 1];
        if (e === '\\') value += '\\';
        else if (e === '"') value += '"';
        else if (e === 'n') value += '\n';
        else fail(lineNo, `bad escape "\\${e ?? ''}" in label "${name}"`);
        i += 2;
      } else {
        value += c;
        i++;
      }
    }
    labels[name] = value;
    i++;
    if (text[i] === ',') i++;
    else if (text[i] !== '}') fail(lineNo, `expected "," or "}" after label "${name}"`);
  }
}

/** The family a sample name belongs to, given the declared families (histogram/summary suffixes). */
function familyOf(name: string, families: Map<string, Family>): Family | undefined {
  const direct = families.get(name);
  if (direct) return direct;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!name.endsWith(suffix)) continue;
    const f = families.get(name.slice(0, -suffix.length));
    if (f && (f.type === 'histogram' || (f.type === 'summary' && suffix !== '_bucket'))) return f;
  }
  return undefined;
}

function checkHistogram(f: Family): void {
  const series = new Map<string, { buckets: { le: number; value: number }[]; sum?: number; count?: number }>();
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    const entry = series.get(key) ?? { buckets: [] };
    series.set(key, entry);
    if (s.name === `${f.name}_bucket`) {
      if (le === undefined) throw new ExpositionError(`${f.name}: a _bucket sample without le`);
      entry.buckets.push({ le: parseValue(le, 0), value: s.value });
    } else if (s.name === `${f.name}_sum`) entry.sum = s.value;
    else if (s.name === `${f.name}_count`) entry.count = s.value;
    else throw new ExpositionError(`${f.name}: sample ${s.name} is not _bucket, _sum or _count`);
    if (s.name !== `${f.name}_bucket` && le !== undefined) throw new ExpositionError(`${f.name}: le on ${s.name}`);
  }
  for (const [key, e] of series) {
    const where = `${f.name}${key}`;
    if (e.buckets.length === 0) throw new ExpositionError(`${where}: no buckets`);
    if (e.sum === undefined || e.count === undefined) throw new ExpositionError(`${where}: _sum or _count missing`);
    for (let i = 1; i < e.buckets.length; i++) {
      if (!(e.buckets[i].le > e.buckets[i - 1].le)) throw new ExpositionError(`${where}: le not ascending at ${e.buckets[i].le}`);
      if (e.buckets[i].value < e.buckets[i - 1].value)
        throw new ExpositionError(`${where}: buckets not cumulative at le=${e.buckets[i].le}`);
    }
    const last = e.buckets[e.buckets.length - 1];
    if (last.le !== Number.POSITIVE_INFINITY) throw new ExpositionError(`${where}: the last bucket is not le="+Inf"`);
    if (last.value !== e.count) throw new ExpositionError(`${where}: _count ${e.count} differs from the +Inf bucket ${last.value}`);
  }
}

/** Parses a whole exposition; throws ExpositionError naming the first problem. */
export function parseExposition(text: string): Map<string, Family> {
  if (text.length > 0 && !text.endsWith('\n')) throw new ExpositionError('the exposition does not end with a newline');
  const families = new Map<string, Family>();
  const seen = new Set<string>();
  let current: Family | null = null;
  const declare = (name: string, lineNo: number): Family => {
    if (!METRIC_NAME.test(name)) fail(lineNo, `bad metric name "${name}"`);
    let f = families.get(name);
    if (!f) {
      f = { name, type: 'untyped', help: null, samples: [] };
      families.set(name, f);
    } else if (f.samples.length > 0) fail(lineNo, `HELP or TYPE for "${name}" after its samples`);
    return f;
  };
  const typed = new Set<string>();
  const lines = text.split('\n');
  lines.pop();
  for (const [idx, line] of lines.entries()) {
    const lineNo = idx + 1;
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      const m = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s(.*))?$/.exec(line);
      if (!m) continue; // any other comment
      const f = declare(m[2], lineNo);
      if (m[1] === 'HELP') {
        if (f.help !== null) fail(lineNo, `second HELP for "${f.name}"`);
        f.help = unescapeHelp(m[3] ?? '', lineNo);
      } else {
        if (typed.has(f.name)) fail(lineNo, `second TYPE for "${f.name}"`);
        const type = (m[3] ?? '').trim() as MetricType;
        if (!TYPES.has(type)) fail(lineNo, `unknown type "${m[3] ?? ''}" for "${f.name}"`);
        typed.add(f.name);
        f.type = type;
      }
      continue;
    }
    const nameMatch = /^[^\s{]+/.exec(line);
    const name = nameMatch?.[0] ?? '';
    if (!METRIC_NAME.test(name)) fail(lineNo, `bad metric name "${name}"`);
    let rest = line.slice(name.length);
    let labels: Record<string, string> = {};
    if (rest.startsWith('{')) ({ labels, rest } = parseLabels(rest, lineNo));
    const parts = rest.trim().split(/\s+/);
    if (!/^\s/.test(rest) || parts.length < 1 || parts.length > 2 || parts[0] === '')
      fail(lineNo, `expected "<value> [timestamp]" after ${name}`);
    if (parts[1] !== undefined && !/^-?\d+$/.test(parts[1])) fail(lineNo, `bad timestamp "${parts[1]}"`);
    const value = parseValue(parts[0], lineNo);
    const f = familyOf(name, families) ?? declare(name, lineNo);
    if (current !== f && f.samples.length > 0) fail(lineNo, `samples of "${f.name}" are not together`);
    current = f;
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seen.has(key)) fail(lineNo, `series ${name}${JSON.stringify(labels)} repeated`);
    seen.add(key);
    if (f.type === 'counter' && (value < 0 || Number.isNaN(value))) fail(lineNo, `counter ${name} is ${value}`);
    f.samples.push({ name, labels, value });
  }
  for (const f of families.values()) {
    if (f.type === 'histogram') checkHistogram(f);
    if (f.type === 'counter' && !f.name.endsWith('_total'))
      throw new ExpositionError(`counter "${f.name}" does not end in _total (Prometheus naming)`);
  }
  return families;
}

/** The value of one series (labels must match exactly); undefined when absent. */
export function sampleValue(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number | undefined {
  const want = JSON.stringify(Object.entries(labels).sort());
  for (const f of families.values())
    for (const s of f.samples) if (s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === want) return s.value;
  return undefined;
}

/** The sum of a metric's samples whose labels include these. */
export function sampleSum(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const f of families.values())
    for (const s of f.samples) if (s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)) sum += s.value;
  return sum;
}

// A strict parser of the Prometheus text exposition format (0.0.4), for checking what the export writes.
// Stricter than Prometheus itself where that catches mistakes: every sample needs a # TYPE, a family's
// lines must be contiguous, HELP/TYPE appear at most once and before the samples, series are unique,
// label values only use the three escapes the format defines, and histogram series are well formed.

export interface ParsedSample {
  name: string;
  labels: Record<string, string>;
  value: number;
  /** The value as written. */
  raw: string;
}

export interface ParsedFamily {
  name: string;
  help?: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  samples: ParsedSample[];
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL = '[a-zA-Z_][a-zA-Z0-9_]*';
const FLOAT = /^(?:[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|[+-]Inf|NaN)$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

export class PrometheusParseError extends Error {
  constructor(line: number, text: string, problem: string) {
    super(`line ${line}: ${problem}: ${JSON.stringify(text)}`);
  }
}

export function parseFloatStrict(raw: string): number {
  if (!FLOAT.test(raw)) throw new Error(`not a Prometheus float: ${raw}`);
  if (raw === 'NaN') return NaN;
  if (raw.endsWith('Inf')) return raw.startsWith('-') ? -Infinity : Infinity;
  return Number(raw);
}

/** Parses `text`; throws a {@link PrometheusParseError} at the first problem. Families by name, in order. */
export function parsePrometheusText(text: string): Map<string, ParsedFamily> {
  if (text.length > 0 && !text.endsWith('\n')) throw new PrometheusParseError(0, text.slice(-40), 'the text must end with a line feed');
  const families = new Map<string, ParsedFamily>();
  const closed = new Set<string>();
  const series = new Set<string>();
  const typed = new Set<string>();
  let current: ParsedFamily | undefined;
  const lines = text.split('\n');
  lines.pop(); // after the final line feed

  const open = (name: string, n: number, line: string): ParsedFamily => {
    if (current?.name === name) return current;
    if (current) closed.add(current.name);
    if (closed.has(name)) throw new PrometheusParseError(n, line, `family ${name} is not contiguous`);
    const family: ParsedFamily = { name, type: 'untyped', samples: [] };
    families.set(name, family);
    current = family;
    return family;
  };

  lines.forEach((line, i) => {
    const n = i + 1;
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const m = new RegExp(`^# (HELP|TYPE) (${NAME}) (.*)$`).exec(line);
      if (!m) throw new PrometheusParseError(n, line, 'only "# HELP name text" and "# TYPE name type" comments are expected');
      const [, kind, name, rest] = m as unknown as [string, 'HELP' | 'TYPE', string, string];
      const family = open(name, n, line);
      if (family.samples.length > 0) throw new PrometheusParseError(n, line, `${kind} after samples of ${name}`);
      if (kind === 'HELP') {
        if (family.help !== undefined) throw new PrometheusParseError(n, line, `second HELP for ${name}`);
        if (/\\[^\\n]/.test(rest.replace(/\\\\/g, ''))) throw new PrometheusParseError(n, line, 'invalid escape in HELP');
        family.help = rest.replace(/\\(\\|n)/g, (_, c: string) => (c === 'n' ? '\n' : '\\'));
      } else {
        if (typed.has(name)) throw new PrometheusParseError(n, line, `second TYPE for ${name}`);
        if (!TYPES.has(rest)) throw new PrometheusParseError(n, line, `unknown type ${rest}`);
        family.type = rest as ParsedFamily['type'];
        typed.add(name);
      }
      return;
    }

    const m = new RegExp(`^(${NAME})(\\{[^]*\\})? (\\S+)(?: (-?\\d+))?$`).exec(line);
    if (!m) throw new PrometheusParseError(n, line, 'not a sample line');
    const [, name, labelText, raw] = m as unknown as [string, string, string | undefined, string];
    const labels = labelText ? parseLabels(labelText, n, line) : {};
    if (!FLOAT.test(raw)) throw new PrometheusParseError(n, line, `invalid value ${raw}`);
    const familyName = familyOf(name, current);
    if (!current || familyName !== current.name) throw new PrometheusParseError(n, line, `sample ${name} outside its family's block (needs a # TYPE first)`);
    if (!typed.has(familyName)) throw new PrometheusParseError(n, line, `no # TYPE for ${familyName}`);
    if (current.type === 'histogram' && name.endsWith('_bucket') && labels.le === undefined) throw new PrometheusParseError(n, line, 'bucket without le');
    const key = `${name}{${Object.keys(labels)
      .sort()
      .map((k) => `${k}=${JSON.stringify(labels[k])}`)
      .join(',')}}`;
    if (series.has(key)) throw new PrometheusParseError(n, line, `duplicate series ${key}`);
    series.add(key);
    current.samples.push({ name, labels, value: parseFloatStrict(raw), raw });
  });
  return families;
}

/** The family a sample name belongs to, given the family being read. */
function familyOf(name: string, current: ParsedFamily | undefined): string {
  if (current && (current.type === 'histogram' || current.type === 'summary')) {
    for (const suffix of ['_bucket', '_sum', '_count']) {
      if (name === `${current.name}${suffix}` && (suffix !== '_bucket' || current.type === 'histogram')) return current.name;
    }
    return name;
  }
  return name;
}

function parseLabels(text: string, n: number, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let rest = text.slice(1, -1);
  const pair = new RegExp(`^(${LABEL})="((?:[^"\\\\\\n]|\\\\[\\\\"n])*)"(,?)`);
  while (rest.length > 0) {
    const m = pair.exec(rest);
    if (!m) throw new PrometheusParseError(n, line, `bad label syntax at ${JSON.stringify(rest)}`);
    const [whole, name, value, comma] = m as unknown as [string, string, string, string];
    if (name in labels) throw new PrometheusParseError(n, line, `duplicate label ${name}`);
    labels[name] = value.replace(/\\([\\"n])/g, (_, c: string) => (c === 'n' ? '\n' : c));
    rest = rest.slice(whole.length);
    if (!comma && rest.length > 0) throw new PrometheusParseError(n, line, 'labels must be separated by commas');
  }
  return labels;
}

/**
 * Checks every series of a histogram family: buckets in ascending `le` order ending with +Inf,
 * cumulative counts never decreasing, +Inf bucket equal to _count, a _sum present. Returns the series,
 * keyed by their labels without `le`.
 */
export function checkHistogram(
  family: ParsedFamily,
): Map<string, { labels: Record<string, string>; buckets: Array<{ le: number; count: number }>; sum: number; count: number }> {
  if (family.type !== 'histogram') throw new Error(`${family.name} is a ${family.type}, not a histogram`);
  const out = new Map<string, { labels: Record<string, string>; buckets: Array<{ le: number; count: number }>; sum: number; count: number }>();
  const keyOf = (labels: Record<string, string>) =>
    JSON.stringify(
      Object.keys(labels)
        .filter((k) => k !== 'le')
        .sort()
        .map((k) => [k, labels[k]]),
    );
  for (const s of family.samples) {
    const key = keyOf(s.labels);
    const { le: _le, ...labels } = s.labels;
    const entry = out.get(key) ?? { labels, buckets: [], sum: NaN, count: NaN };
    out.set(key, entry);
    if (s.name === `${family.name}_bucket`) entry.buckets.push({ le: parseFloatStrict(s.labels.le!), count: s.value });
    else if (s.name === `${family.name}_sum`) entry.sum = s.value;
    else if (s.name === `${family.name}_count`) entry.count = s.value;
  }
  for (const [key, e] of out) {
    if (e.buckets.length === 0) throw new Error(`${family.name}${key}: no buckets`);
    for (let i = 1; i < e.buckets.length; i++) {
      if (!(e.buckets[i]!.le > e.buckets[i - 1]!.le)) throw new Error(`${family.name}${key}: le not ascending at ${i}`);
      if (e.buckets[i]!.count < e.buckets[i - 1]!.count) throw new Error(`${family.name}${key}: bucket counts decrease at le=${e.buckets[i]!.le}`);
    }
    const last = e.buckets[e.buckets.length - 1]!;
    if (last.le !== Infinity) throw new Error(`${family.name}${key}: the last bucket is not +Inf`);
    if (Number.isNaN(e.count) || last.count !== e.count) throw new Error(`${family.name}${key}: +Inf bucket ${last.count} != _count ${e.count}`);
    if (Number.isNaN(e.sum)) throw new Error(`${family.name}${key}: no _sum`);
  }
  return out;
}

/** The value of the one sample of `family` whose labels include `labels`. */
export function valueOf(families: Map<string, ParsedFamily>, name: string, labels: Record<string, string>): number {
  const family = families.get(name);
  if (!family) throw new Error(`no family ${name}`);
  const matches = family.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (matches.length !== 1) throw new Error(`${name}${JSON.stringify(labels)}: ${matches.length} samples match`);
  return matches[0]!.value;
}

/**
 * A strict parser of the Prometheus text exposition format (version 0.0.4), for tests: it
 * throws on any line a Prometheus server would reject, so "parses" means "a scraper accepts it".
 * Checks: metric and label names, quoted and escaped label values, numeric values (and +Inf,
 * -Inf, NaN), one TYPE per family given before its samples, histogram series (_bucket with
 * ascending `le` ending at +Inf, cumulative counts, _count equal to the +Inf bucket, _sum).
 */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Family {
  readonly name: string;
  type: string;
  help: string;
  readonly samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function parseValue(text: string, line: string): number {
  if (text === '+Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  if (text === 'NaN') return Number.NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`bad value ${JSON.stringify(text)} in: ${line}`);
  return Number(text);
}

function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let i = 0;
  while (i < text.length) {
    const eq = text.indexOf('=', i);
    if (eq < 0) throw new Error(`bad labels in: ${line}`);
    const name = text.slice(i, eq).trim();
    if (!LABEL.test(name)) throw new Error(`bad label name ${JSON.stringify(name)} in: ${line}`);
    if (text[eq + 1] !== '"') throw new Error(`unquoted label value in: ${line}`);
    let value = '';
    let j = eq + 2;
    for (; j < text.length && text[j] !== '"'; j++) {
      if (text[j] === '\\') {
        const next = text[++j];
        if (next === 'n') value += '\n';
        else if (next === '\\' || next === '"') value += next;
        else throw new Error(`bad escape in: ${line}`);
      } else value += text[j];
    }
    if (j >= text.length) throw new Error(`unterminated label value in: ${line}`);
    if (name in labels) throw new Error(`repeated label ${name} in: ${line}`);
    labels[name] = value;
    i = j + 1;
    if (text[i] === ',') i++;
    else if (i < text.length) throw new Error(`expected ',' between labels in: ${line}`);
  }
  return labels;
}

/** The family a sample belongs to: a histogram's _bucket/_sum/_count belong to its base name. */
function familyOf(name: string, families: Map<string, Family>): Family | undefined {
  const direct = families.get(name);
  if (direct !== undefined) return direct;
  const base = name.replace(/_(bucket|sum|count)$/, '');
  const f = families.get(base);
  return f !== undefined && (f.type === 'histogram' || f.type === 'summary') ? f : undefined;
}

export function parsePrometheus(text: string): Map<string, Family> {
  if (!text.endsWith('\n')) throw new Error('exposition must end with a newline');
  const families = new Map<string, Family>();
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line);
      if (m === null) continue; // a plain comment
      const [, kind, name, rest = ''] = m as unknown as [string, string, string, string | undefined];
      if (!NAME.test(name)) throw new Error(`bad metric name in: ${line}`);
      let f = families.get(name);
      if (f === undefined) families.set(name, (f = { name, type: 'untyped', help: '', samples: [] }));
      if (kind === 'TYPE') {
        if (!TYPES.has(rest)) throw new Error(`bad type in: ${line}`);
        if (f.samples.length > 0) throw new Error(`TYPE after samples in: ${line}`);
        f.type = rest;
      } else f.help = rest;
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+(-?\d+))?$/.exec(line);
    if (m === null) throw new Error(`bad sample line: ${line}`);
    const name = m[1] as string;
    const family = familyOf(name, families);
    if (family === undefined) throw new Error(`sample without a TYPE: ${line}`);
    family.samples.push({ name, labels: parseLabels(m[2] ?? '', line), value: parseValue(m[3] as string, line) });
  }
  for (const f of families.values()) if (f.type === 'histogram') checkHistogram(f);
  return families;
}

function checkHistogram(f: Family): void {
  const series = new Map<string, Sample[]>();
  const key = (labels: Record<string, string>): string => JSON.stringify(Object.entries(labels).filter(([k]) => k !== 'le').sort());
  for (const s of f.samples.filter((x) => x.name === `${f.name}_bucket`)) {
    if (s.labels['le'] === undefined) throw new Error(`${f.name}: bucket without le`);
    const k = key(s.labels);
    series.set(k, [...(series.get(k) ?? []), s]);
  }
  if (series.size === 0) throw new Error(`${f.name}: histogram without buckets`);
  for (const [k, buckets] of series) {
    const les = buckets.map((b) => parseValue(b.labels['le'] as string, f.name));
    if (les.at(-1) !== Number.POSITIVE_INFINITY) throw new Error(`${f.name}: last bucket is not +Inf`);
    for (let i = 1; i < buckets.length; i++) {
      if (!((les[i] as number) > (les[i - 1] as number))) throw new Error(`${f.name}: le not ascending`);
      if ((buckets[i] as Sample).value < (buckets[i - 1] as Sample).value) throw new Error(`${f.name}: buckets not cumulative`);
    }
    const count = f.samples.find((s) => s.name === `${f.name}_count` && key(s.labels) === k);
    const sum = f.samples.find((s) => s.name === `${f.name}_sum` && key(s.labels) === k);
    if (count === undefined || sum === undefined) throw new Error(`${f.name}: missing _count or _sum`);
    if (count.value !== (buckets.at(-1) as Sample).value) throw new Error(`${f.name}: _count differs from the +Inf bucket`);
  }
}

/** The value of the one sample of `name` whose labels include `labels`. */
export function sampleValue(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  const base = name.replace(/_(bucket|sum|count)$/, '');
  const f = families.get(name) ?? families.get(base);
  const found = f?.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)) ?? [];
  if (found.length !== 1) throw new Error(`${name} ${JSON.stringify(labels)}: ${found.length} samples`);
  return (found[0] as Sample).value;
}

import { escapeLabelValue } from '../signals/labels.js';
import type { Signal, SignalDefinition } from '../signals/signal.js';

/** Prometheus name of a signal, after the OpenTelemetry-to-Prometheus rules: dots to underscores, unit suffix. */
export function prometheusName(definition: SignalDefinition): string {
  const base = definition.name.replace(/\./g, '_');
  switch (definition.unit) {
    case 'ms':
    case 's':
      return `${base}_seconds`;
    case 'By':
      return `${base}_bytes`;
    default:
      return base;
  }
}

function scaleOf(definition: SignalDefinition): number {
  return definition.unit === 'ms' ? 1 / 1000 : 1;
}

/**
 * The `/metrics` text, written as UTF-8 bytes into one growing buffer. A text
 * built with `+=` is a rope that V8 flattens when it is sent, and for 1,000
 * histogram series (2.4 MB) that flattening cost more than the render itself.
 */
export class MetricsWriter {
  #buffer: Buffer;
  #length = 0;

  /** @param capacity bytes to start with: the last render's size saves growing (copies, garbage). */
  constructor(capacity = 64 * 1024) {
    this.#buffer = Buffer.allocUnsafe(capacity);
  }

  /** Appends text (label values may hold any Unicode). */
  text(value: string): void {
    this.#ensure(value.length * 3);
    this.#length += this.#buffer.write(value, this.#length, 'utf8');
  }

  bytes(value: Uint8Array): void {
    this.#ensure(value.length);
    this.#buffer.set(value, this.#length);
    this.#length += value.length;
  }

  /** Appends a non-negative integer and a newline, without making a string. */
  count(value: number): void {
    if (!Number.isSafeInteger(value) || value < 0) {
      this.text(`${formatNumber(value)}\n`);
      return;
    }
    let digits = 1;
    for (let rest = value; rest >= 10; rest = Math.floor(rest / 10)) digits++;
    this.#ensure(digits + 1);
    const buffer = this.#buffer;
    let at = this.#length + digits - 1;
    for (let rest = value; at >= this.#length; rest = Math.floor(rest / 10)) buffer[at--] = 48 + (rest % 10);
    this.#length += digits;
    buffer[this.#length++] = 10;
  }

  /** The bytes written: a view, valid until the next write. */
  toBuffer(): Buffer {
    return this.#buffer.subarray(0, this.#length);
  }

  toString(): string {
    return this.#buffer.toString('utf8', 0, this.#length);
  }

  #ensure(extra: number): void {
    if (this.#length + extra <= this.#buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.#buffer.length * 2, this.#length + extra));
    this.#buffer.copy(grown, 0, 0, this.#length);
    this.#buffer = grown;
  }
}

/**
 * Writes one signal as a Prometheus histogram. Label sets were escaped once
 * when each series was created, so this loop only copies bytes and counts.
 */
export function renderHistogram(out: MetricsWriter, signal: Signal): void {
  const d = signal.definition;
  const name = prometheusName(d);
  const scale = scaleOf(d);
  const le = d.boundaries.map((b) => Buffer.from(`le="${formatNumber(b * scale)}"} `));
  le.push(Buffer.from('le="+Inf"} '));
  out.text(`# HELP ${name} ${escapeHelp(d.description)}\n# TYPE ${name} histogram\n`);
  const write = (series: Signal['series'][number]) => {
    const labels = series.renderedLabels;
    const open = Buffer.from(labels ? `${name}_bucket{${labels},` : `${name}_bucket{`);
    const plain = labels ? `{${labels}}` : '';
    let cumulative = 0;
    for (let i = 0; i < le.length; i++) {
      cumulative += series.le[i]!;
      out.bytes(open);
      out.bytes(le[i]!);
      out.count(cumulative);
    }
    out.text(`${name}_sum${plain} ${formatNumber(series.sum * scale)}\n${name}_count${plain} `);
    out.count(cumulative);
  };
  for (const series of signal.series) write(series);
  const overflow = signal.overflowSeries;
  if (overflow.le.some((n) => n > 0)) write(overflow);
}

export type GaugeSample = readonly [labels: Readonly<Record<string, string>> | null, value: number];

export function renderMetric(
  name: string,
  type: 'gauge' | 'counter',
  help: string,
  samples: readonly GaugeSample[],
): string {
  let out = `# HELP ${name} ${escapeHelp(help)}\n# TYPE ${name} ${type}\n`;
  for (const [labels, value] of samples) {
    const rendered = labels
      ? `{${Object.entries(labels)
          .map(([k, v]) => `${k}="${escapeLabelValue(v)}"`)
          .join(',')}}`
      : '';
    out += `${name}${rendered} ${formatNumber(value)}\n`;
  }
  return out;
}

export function formatNumber(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}

function escapeHelp(text: string): string {
  return text.replace(/[\\\n]/g, (c) => (c === '\n' ? '\\n' : '\\\\'));
}

import { isAscii } from 'node:buffer';
import { escapeLabelValue } from '../signals/labels.js';
import type { Series, Signal, SignalDefinition } from '../signals/signal.js';

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

/** What a signal's values are multiplied by for export: ms signals leave as seconds. */
export function scaleOf(definition: SignalDefinition): number {
  return definition.unit === 'ms' ? 1 / 1000 : 1;
}

/**
 * The `le` label value of a histogram bucket, as `/metrics` writes it (`0.2`
 * for a 200 ms boundary): rules that read a bucket must name it exactly.
 */
export function bucketLabel(definition: SignalDefinition, boundary: number): string {
  return formatNumber(boundary * scaleOf(definition));
}

const EMPTY = Buffer.alloc(0);

/**
 * The `/metrics` text, written as UTF-8 bytes into one growing buffer. A text
 * built with `+=` is a rope that V8 flattens when it is sent, and for 1,000
 * histogram series (2.4 MB) that flattening cost more than the render itself.
 */
export class MetricsWriter {
  #buffer: Buffer;
  #length = 0;
  /** The whole buffer behind the last `take()`, and the view handed out, until given back. */
  #lent: Buffer | undefined = undefined;
  #lentView: Buffer | undefined = undefined;
  /** A buffer given back (`giveBack`), written into by the next `restart` instead of a fresh one. */
  #spare: Buffer | undefined = undefined;

  /** @param capacity bytes to start with: the last render's size saves growing (copies, garbage). */
  constructor(capacity = 64 * 1024) {
    this.#buffer = Buffer.allocUnsafe(capacity);
  }

  /**
   * Starts a new text, in the buffer given back last (grown if the text
   * outgrows it), else in a fresh one of `capacity` bytes: bytes handed out by
   * `take()` and not given back stay the caller's.
   */
  restart(capacity: number): void {
    this.#buffer = this.#spare ?? Buffer.allocUnsafe(capacity);
    this.#spare = undefined;
    this.#length = 0;
  }

  /**
   * Takes back the bytes of the last `take()` once nothing reads them any more
   * (the response that sent them has finished). A fresh multi-megabyte buffer
   * per scrape costs about 590 page faults when the C allocator has returned
   * the last one to the system; a reused one costs none. Other bytes are ignored.
   */
  giveBack(bytes: Buffer): void {
    if (bytes !== this.#lentView) return;
    this.#spare = this.#lent;
    this.#lent = undefined;
    this.#lentView = undefined;
  }

  /** Appends text (label values may hold any Unicode). */
  text(value: string): void {
    this.#ensure(value.length * 3);
    this.#length += this.#buffer.write(value, this.#length, 'utf8');
  }

  /** Appends text known to be ASCII (a formatted number), without a call into C++. */
  ascii(value: string): void {
    this.#ensure(value.length);
    const buffer = this.#buffer;
    let at = this.#length;
    for (let i = 0; i < value.length; i++) buffer[at++] = value.charCodeAt(i);
    this.#length = at;
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

  /** Hands over the bytes written; the writer keeps none of them and starts again empty. */
  take(): Buffer {
    const bytes = this.#buffer.subarray(0, this.#length);
    this.#lent = this.#buffer;
    this.#lentView = bytes;
    this.#buffer = EMPTY;
    this.#length = 0;
    return bytes;
  }

  #ensure(extra: number): void {
    if (this.#length + extra <= this.#buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.#buffer.length * 2, this.#length + extra));
    this.#buffer.copy(grown, 0, 0, this.#length);
    this.#buffer = grown;
  }
}

/**
 * The text of rendered metrics. Nearly always pure ASCII (only label values
 * may be otherwise), and an ASCII check plus a Latin-1 copy costs a fifth of
 * a UTF-8 decode of the same 2.4 MB.
 */
export function decodeMetrics(bytes: Buffer): string {
  return isAscii(bytes) ? bytes.toString('latin1') : bytes.toString('utf8');
}

/** A histogram signal's name and bucket bounds as bytes, made on its first render. */
interface HistogramBytes {
  readonly name: string;
  readonly scale: number;
  readonly header: Buffer;
  /** `le="0.005"} ` ... `le="+Inf"} `, one per bucket. */
  readonly le: readonly Buffer[];
}

/** One series' line starts as bytes: `<name>_bucket{<labels>,`, `<name>_sum{<labels>} `, `<name>_count{<labels>} `. */
interface SeriesBytes {
  readonly bucket: Buffer;
  readonly sum: Buffer;
  readonly count: Buffer;
}

// Made once and kept, not per render: per-render buffers and closures were
// garbage on every scrape, and the optimized render code that referred to
// them was thrown away by the next full GC, so a scrape after one ran cold.
// Both maps are bounded by the series caps and go with their signal.
const histogramBytes = new WeakMap<Signal, HistogramBytes>();
const seriesBytes = new WeakMap<Series, SeriesBytes>();

function histogramBytesOf(signal: Signal): HistogramBytes {
  let bytes = histogramBytes.get(signal);
  if (bytes === undefined) {
    const d = signal.definition;
    const name = prometheusName(d);
    const scale = scaleOf(d);
    const le = d.boundaries.map((b) => Buffer.from(`le="${bucketLabel(d, b)}"} `));
    le.push(Buffer.from('le="+Inf"} '));
    const header = Buffer.from(`# HELP ${name} ${escapeHelp(d.description)}\n# TYPE ${name} histogram\n`);
    bytes = { name, scale, header, le };
    histogramBytes.set(signal, bytes);
  }
  return bytes;
}

function seriesBytesOf(series: Series, name: string): SeriesBytes {
  let bytes = seriesBytes.get(series);
  if (bytes === undefined) {
    const labels = series.renderedLabels;
    const plain = labels ? `{${labels}} ` : ' ';
    bytes = {
      bucket: Buffer.from(labels ? `${name}_bucket{${labels},` : `${name}_bucket{`),
      sum: Buffer.from(`${name}_sum${plain}`),
      count: Buffer.from(`${name}_count${plain}`),
    };
    seriesBytes.set(series, bytes);
  }
  return bytes;
}

/**
 * Writes one signal as a Prometheus histogram. Every line start was made as
 * bytes once (see `seriesBytes`), so this loop only copies bytes and counts.
 */
export function renderHistogram(out: MetricsWriter, signal: Signal): void {
  const histogram = histogramBytesOf(signal);
  out.bytes(histogram.header);
  for (const series of signal.series) renderSeries(out, histogram, series);
  const overflow = signal.overflowSeries;
  if (overflow.le.some((n) => n > 0)) renderSeries(out, histogram, overflow);
}

function renderSeries(out: MetricsWriter, histogram: HistogramBytes, series: Series): void {
  const lines = seriesBytesOf(series, histogram.name);
  const le = histogram.le;
  let cumulative = 0;
  for (let i = 0; i < le.length; i++) {
    cumulative += series.le[i]!;
    out.bytes(lines.bucket);
    out.bytes(le[i]!);
    out.count(cumulative);
  }
  out.bytes(lines.sum);
  out.ascii(formatNumber(series.sum * histogram.scale));
  out.ascii('\n');
  out.bytes(lines.count);
  out.count(cumulative);
}

export type GaugeSample = readonly [labels: Readonly<Record<string, string>> | null, value: number];

/** One gauge or counter of Keel's exposition, before it is written (Prometheus) or exported (OpenTelemetry). */
export interface MetricFamily {
  readonly name: string;
  readonly type: 'gauge' | 'counter';
  readonly help: string;
  readonly samples: readonly GaugeSample[];
}

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

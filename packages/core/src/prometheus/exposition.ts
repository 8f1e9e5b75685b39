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
 * Writes one signal as a Prometheus histogram. Label sets were escaped once
 * when each series was created, so this loop only concatenates numbers.
 */
export function renderHistogram(signal: Signal): string {
  const d = signal.definition;
  const name = prometheusName(d);
  const scale = scaleOf(d);
  const le = d.boundaries.map((b) => `le="${formatNumber(b * scale)}"`);
  le.push('le="+Inf"');
  let out = `# HELP ${name} ${escapeHelp(d.description)}\n# TYPE ${name} histogram\n`;
  const write = (series: Signal['series'][number]) => {
    const labels = series.renderedLabels;
    const open = labels ? `{${labels},` : '{';
    const plain = labels ? `{${labels}}` : '';
    let cumulative = 0;
    for (let i = 0; i < le.length; i++) {
      cumulative += series.le[i]!;
      out += `${name}_bucket${open}${le[i]}} ${cumulative}\n`;
    }
    out += `${name}_sum${plain} ${formatNumber(series.sum * scale)}\n${name}_count${plain} ${cumulative}\n`;
  };
  for (const series of signal.series) write(series);
  const overflow = signal.overflowSeries;
  if (overflow.le.some((n) => n > 0)) write(overflow);
  return out;
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

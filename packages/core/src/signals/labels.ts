export type LabelValue = string | number;

/** Stands in for every label value once a signal's series cap is reached, or for a value that fails validation. */
export const OVERFLOW_LABEL = '__overflow__';

const METRIC_NAME = /^[a-zA-Z_][a-zA-Z0-9_.]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export function isValidSignalName(name: unknown): name is string {
  return typeof name === 'string' && name.length <= 128 && METRIC_NAME.test(name);
}

export function isValidLabelName(name: unknown): name is string {
  return typeof name === 'string' && name.length <= 64 && LABEL_NAME.test(name) && !name.startsWith('__');
}

/**
 * Label values come from the network (paths, headers, beacons): bounded in
 * length and free of control characters before they may become a series.
 */
export function isValidLabelValue(value: unknown, maxLength: number): value is LabelValue {
  if (typeof value === 'number') return Number.isFinite(value);
  if (typeof value !== 'string' || value.length > maxLength) return false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return false;
  }
  return true;
}

/** Escapes a label value for the Prometheus text format. */
export function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}

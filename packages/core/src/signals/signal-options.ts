import { invalidOption } from '../errors.js';
import { isPositiveInteger, isPositiveNumber, isString, object, read } from '../option-readers.js';
import { BUILT_IN_SIGNALS, LATENCY_BOUNDARIES } from './built-in-signals.js';
import { isValidLabelName, isValidSignalName } from './labels.js';
import type { SignalDefinition } from './signal.js';

export interface SignalOptions {
  /** What it measures, shown as the metric's HELP. @default 'Keel signal <name>.' */
  description?: string;
  /** @default 'ms' */
  unit?: SignalDefinition['unit'];
  /** Label names, in the order `record` takes their values; at most 4. @default [] */
  labels?: string[];
  /** The label whose values each get a rolling window. @default none */
  groupBy?: string;
  /** Histogram boundaries in `unit`; budget targets are added. @default latency boundaries */
  boundaries?: number[];
  /** @default limits.maxSeries */
  maxSeries?: number;
  /** @default limits.maxGroups */
  maxGroups?: number;
}

/** Caps applied to every signal: what bounds Keel's memory whatever the traffic. */
export interface SignalLimitsOptions {
  /** Distinct label combinations a signal keeps; further ones share its overflow series. @default 1000 */
  maxSeries?: number;
  /** Distinct `groupBy` values (routes, fingerprints) with a rolling window of their own. @default 200 */
  maxGroups?: number;
  /** Longest label value accepted; a longer one goes to the overflow series. @default 256 */
  maxLabelLength?: number;
}

export type SignalLimits = Readonly<Required<SignalLimitsOptions>>;

const LIMIT_KEYS: ReadonlySet<string> = new Set(['maxSeries', 'maxGroups', 'maxLabelLength']);
const SIGNAL_KEYS: ReadonlySet<string> = new Set([
  'description',
  'unit',
  'labels',
  'groupBy',
  'boundaries',
  'maxSeries',
  'maxGroups',
]);

/** Validates `options.limits`. */
export function resolveSignalLimits(value: unknown): SignalLimits {
  const o = object('limits', value, LIMIT_KEYS);
  const rule = 'must be an integer >= 1';
  return Object.freeze({
    maxSeries: read('limits.maxSeries', o.maxSeries, 1000, isPositiveInteger, rule),
    maxGroups: read('limits.maxGroups', o.maxGroups, 200, isPositiveInteger, rule),
    maxLabelLength: read('limits.maxLabelLength', o.maxLabelLength, 256, isPositiveInteger, rule),
  });
}

/**
 * The built-in signals plus `options.signals`, validated. `latencyTargets`
 * (by signal name) become histogram boundaries, so a latency budget is judged
 * from exact counts at its target, in Keel and in Prometheus alike.
 */
export function resolveSignals(
  value: unknown,
  latencyTargets: ReadonlyMap<string, readonly number[]>,
  limits: SignalLimits,
): SignalDefinition[] {
  const given = object('signals', value);
  for (const name of Object.keys(given)) {
    if (name in BUILT_IN_SIGNALS)
      throw invalidOption(`signals.${name}`, 'is a built-in signal and cannot be redefined', name);
  }
  const all = { ...BUILT_IN_SIGNALS, ...given } as Record<string, unknown>;
  return Object.entries(all).map(([name, raw]) => {
    const path = `signals.${name}`;
    if (!isValidSignalName(name))
      throw invalidOption(path, 'needs a name of letters, digits, "_" and "."', name);
    const o = object(path, raw, SIGNAL_KEYS) as SignalOptions;
    const unit = read<SignalDefinition['unit']>(
      `${path}.unit`,
      o.unit,
      'ms',
      (v) => v === 'ms' || v === 's' || v === '1' || v === 'By',
      "must be 'ms', 's', '1' or 'By'",
    );
    const labels = read<readonly string[]>(
      `${path}.labels`,
      o.labels,
      [],
      (v) => Array.isArray(v) && v.length <= 4 && v.every(isValidLabelName) && new Set(v).size === v.length,
      'must be at most 4 distinct label names (letters, digits, "_"; not starting with "__")',
    );
    const groupBy = read<string | undefined>(
      `${path}.groupBy`,
      o.groupBy,
      undefined,
      (v) => typeof v === 'string' && labels.includes(v),
      "must be one of the signal's labels",
    );
    const boundaries = read<readonly number[]>(
      `${path}.boundaries`,
      o.boundaries,
      LATENCY_BOUNDARIES,
      (v) => Array.isArray(v) && v.length > 0 && v.length <= 64 && v.every(isPositiveNumber),
      'must be 1 to 64 numbers > 0',
    );
    const targets = latencyTargets.get(name) ?? [];
    const merged = [...new Set([...boundaries, ...targets])].sort((a, b) => a - b);
    return Object.freeze({
      name,
      description: read(
        `${path}.description`,
        o.description,
        `Keel signal ${name}.`,
        isString,
        'must be a string',
      ),
      unit,
      labels: Object.freeze(labels.slice()),
      groupBy,
      boundaries: Object.freeze(merged),
      maxSeries: read(
        `${path}.maxSeries`,
        o.maxSeries,
        limits.maxSeries,
        isPositiveInteger,
        'must be an integer >= 1',
      ),
      maxGroups: read(
        `${path}.maxGroups`,
        o.maxGroups,
        limits.maxGroups,
        isPositiveInteger,
        'must be an integer >= 1',
      ),
      maxLabelLength: limits.maxLabelLength,
    });
  });
}

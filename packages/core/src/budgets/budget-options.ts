import { invalidOption } from '../errors.js';
import {
  type Check,
  isPositiveInteger,
  isPositiveNumber,
  isString,
  object,
  read,
  roundToInterval,
} from '../option-readers.js';
import { DB_SIGNAL, HTTP_SIGNAL, TTI_SIGNAL, WEB_VITAL_SIGNALS } from '../signals/built-in-signals.js';
import { isValidSignalName } from '../signals/labels.js';
import type { SignalDefinition } from '../signals/signal.js';
import type { WindowConfig } from '../signals/window-options.js';

export type BudgetKind = 'latency' | 'error_rate' | 'availability';

export interface BudgetOptions {
  /**
   * - `latency`: `percentile` of the signal's samples must stay at or below `target` (the signal's unit).
   * - `error_rate`: the share of bad events must stay below `target`, in percent.
   * - `availability`: good events times ready time must stay above `target`, in percent.
   */
  kind: BudgetKind;
  /** Name of the signal the budget reads, e.g. `http.server.request.duration`. */
  signal: string;
  /** The threshold, see `kind`. */
  target: number;
  /** For `latency`: which percentile, 0 < p < 100. @default 95 */
  percentile?: number;
  /** Restrict the budget to one group of the signal (a route, a fingerprint, a page group). @default all groups */
  group?: string;
  /** Rolling window the state is judged over, in ms; a multiple of `window.interval`. @default window.length */
  window?: number;
  /** Shown in reports. @default derived, e.g. "p95 of http.server.request.duration <= 200 ms" */
  description?: string;
  /**
   * Once the budget has had data, how long it may go without a sample before
   * the silence counts as a fault in the health score (ms; `false`: never).
   * Until then a silent budget keeps the score it had with data; it never
   * scores better for having lost its traffic. @default false
   */
  maxSilence?: number | false;
}

export type DefaultBudgetName =
  | 'availability'
  | 'api_latency'
  | 'page_load'
  | 'error_rate'
  | 'db_latency'
  | 'lcp'
  | 'inp'
  | 'cls';

/** A default budget can be tuned or switched off; any other name defines a new one. */
export type BudgetsOption = { [K in DefaultBudgetName]?: Partial<BudgetOptions> | false } & {
  [name: string]: Partial<BudgetOptions> | BudgetOptions | false | undefined;
};

export interface BurnRateWindow {
  /** Short window, ms. */
  short: number;
  /** Long window, ms. */
  long: number;
  /** Burn rate above which both windows together raise an alert. */
  factor: number;
}

/** How every budget is judged: the options `createKeel` takes at its top level. */
export interface BudgetRulesOptions {
  /** SRE-workbook multi-window burn-rate pairs. @default 5m/1h ×14.4 and 30m/6h ×6 */
  burnRateWindows?: BurnRateWindow[];
  /** Consecutive evaluations a new budget state must hold before it is adopted. @default 2 */
  hysteresis?: number;
  /** Share of the error budget in use at which a met budget turns `at_risk`. @default 0.8 */
  atRiskRatio?: number;
  /** Fewer samples than this in a window and a budget reports `no_data`. @default 10 */
  minSamples?: number;
}

export interface ResolvedBudget {
  readonly name: string;
  readonly kind: BudgetKind;
  readonly signal: string;
  readonly target: number;
  readonly percentile: number;
  readonly group: string | undefined;
  /** Window in intervals. */
  readonly windowIntervals: number;
  readonly description: string;
  /** ms without a sample after which the silence is a fault; `undefined`: never. */
  readonly maxSilence: number | undefined;
}

/** What budgets are judged with, resolved; the budget part of `KeelConfig`. */
export interface BudgetsConfig {
  readonly interval: number;
  /** Ring length, in intervals, of the per-group windows. */
  readonly windowIntervals: number;
  /** Ring length, in intervals, of the per-budget good/total history. */
  readonly historyIntervals: number;
  readonly budgets: readonly ResolvedBudget[];
  readonly burnRateWindows: readonly BurnRateWindow[];
  readonly hysteresis: number;
  readonly atRiskRatio: number;
  readonly minSamples: number;
}

const DEFAULT_BUDGETS: Record<DefaultBudgetName, BudgetOptions> = {
  availability: { kind: 'availability', signal: HTTP_SIGNAL, target: 99.9 },
  api_latency: { kind: 'latency', signal: HTTP_SIGNAL, percentile: 95, target: 200 },
  page_load: { kind: 'latency', signal: TTI_SIGNAL, percentile: 75, target: 3000 },
  error_rate: { kind: 'error_rate', signal: HTTP_SIGNAL, target: 0.1 },
  db_latency: { kind: 'latency', signal: DB_SIGNAL, percentile: 95, target: 100 },
  // Google's "good" thresholds, judged at p75 like the Chrome UX Report.
  lcp: { kind: 'latency', signal: WEB_VITAL_SIGNALS.LCP, percentile: 75, target: 2500 },
  inp: { kind: 'latency', signal: WEB_VITAL_SIGNALS.INP, percentile: 75, target: 200 },
  cls: { kind: 'latency', signal: WEB_VITAL_SIGNALS.CLS, percentile: 75, target: 0.1 },
};

const MINUTE = 60_000;
const DEFAULT_BURN_RATE_WINDOWS: BurnRateWindow[] = [
  { short: 5 * MINUTE, long: 60 * MINUTE, factor: 14.4 },
  { short: 30 * MINUTE, long: 360 * MINUTE, factor: 6 },
];

const BUDGET_KEYS: ReadonlySet<string> = new Set([
  'kind',
  'signal',
  'target',
  'percentile',
  'group',
  'window',
  'description',
  'maxSilence',
]);
const BURN_WINDOW_KEYS: ReadonlySet<string> = new Set(['short', 'long', 'factor']);

export type BudgetRules = Pick<
  BudgetsConfig,
  'burnRateWindows' | 'hysteresis' | 'atRiskRatio' | 'minSamples'
>;

/** Validates the top-level budget rules (`burnRateWindows`, `hysteresis`, `atRiskRatio`, `minSamples`). */
export function resolveBudgetRules(options: BudgetRulesOptions, interval: number): BudgetRules {
  return {
    burnRateWindows: Object.freeze(readBurnRateWindows(options.burnRateWindows, interval)),
    hysteresis: read('hysteresis', options.hysteresis, 2, isPositiveInteger, 'must be an integer >= 1'),
    atRiskRatio: read(
      'atRiskRatio',
      options.atRiskRatio,
      0.8,
      (v) => isPositiveNumber(v) && (v as number) <= 1,
      'must be a number in (0, 1]',
    ),
    minSamples: read('minSamples', options.minSamples, 10, isPositiveInteger, 'must be an integer >= 1'),
  };
}

function readBurnRateWindows(value: unknown, interval: number): BurnRateWindow[] {
  if (value === undefined) {
    // Defaults follow a custom interval; windows a user writes must be exact multiples.
    return DEFAULT_BURN_RATE_WINDOWS.map((w) =>
      Object.freeze({
        short: roundToInterval(w.short, interval),
        long: roundToInterval(w.long, interval),
        factor: w.factor,
      }),
    );
  }
  if (!Array.isArray(value))
    throw invalidOption('burnRateWindows', 'must be an array of { short, long, factor }', value);
  const multiple: Check = (v) => isPositiveInteger(v) && (v as number) % interval === 0;
  const rule = `must be a positive multiple of window.interval (${interval} ms)`;
  return value.map((w, i) => {
    const path = `burnRateWindows[${i}]`;
    const o = object(path, w, BURN_WINDOW_KEYS);
    const short = read(`${path}.short`, o.short, 0, multiple, rule);
    const long = read(`${path}.long`, o.long, 0, multiple, rule);
    const factor = read(`${path}.factor`, o.factor, 0, isPositiveNumber, 'must be a number > 0');
    if (!short || !long || !factor) throw invalidOption(path, 'needs short, long and factor', w);
    if (short >= long) throw invalidOption(`${path}.short`, 'must be shorter than long', short);
    return Object.freeze({ short, long, factor });
  });
}

/**
 * Validates `options.budgets` over the defaults. Descriptions are left empty:
 * they need the signal's unit, which `describeBudgets` adds once the signals
 * are resolved (and they need the budgets first, for their boundaries).
 */
export function resolveBudgets(value: unknown, window: WindowConfig): ResolvedBudget[] {
  const { interval } = window;
  const given = object('budgets', value);
  const names = new Set([...Object.keys(DEFAULT_BUDGETS), ...Object.keys(given)]);
  const resolved: ResolvedBudget[] = [];
  for (const name of names) {
    const override = given[name];
    if (override === false) continue;
    const path = `budgets.${name}`;
    if (!/^[a-z][a-z0-9_]*$/.test(name) || name.length > 64)
      throw invalidOption(path, 'needs a snake_case name of at most 64 characters', name);
    const base = (DEFAULT_BUDGETS as Record<string, BudgetOptions | undefined>)[name];
    const o = { ...base, ...object(path, override, BUDGET_KEYS) } as Partial<BudgetOptions>;
    const kind = read<BudgetKind | undefined>(
      `${path}.kind`,
      o.kind,
      undefined,
      (v) => v === 'latency' || v === 'error_rate' || v === 'availability',
      "must be 'latency', 'error_rate' or 'availability'",
    );
    if (!kind)
      throw invalidOption(
        `${path}.kind`,
        "is required for a budget that is not a default ('latency', 'error_rate' or 'availability')",
        o.kind,
      );
    const signal = read<string | undefined>(
      `${path}.signal`,
      o.signal,
      undefined,
      isValidSignalName,
      'must be a signal name',
    );
    if (!signal) throw invalidOption(`${path}.signal`, 'is required', o.signal);
    const ratioKind = kind !== 'latency';
    const target = read<number | undefined>(
      `${path}.target`,
      o.target,
      undefined,
      ratioKind ? (v) => isPositiveNumber(v) && (v as number) < 100 : isPositiveNumber,
      ratioKind ? 'must be a percentage in (0, 100)' : "must be a number > 0 in the signal's unit",
    );
    if (target === undefined) throw invalidOption(`${path}.target`, 'is required', o.target);
    const percentile = read(
      `${path}.percentile`,
      o.percentile,
      95,
      (v) => isPositiveNumber(v) && (v as number) < 100,
      'must be a number in (0, 100)',
    );
    const windowMs = read(
      `${path}.window`,
      o.window,
      window.length,
      (v) => isPositiveInteger(v) && (v as number) % interval === 0,
      `must be a positive multiple of window.interval (${interval} ms)`,
    );
    const group = read<string | undefined>(`${path}.group`, o.group, undefined, isString, 'must be a string');
    const description = read<string | undefined>(
      `${path}.description`,
      o.description,
      undefined,
      isString,
      'must be a string',
    );
    const maxSilence = read<number | false>(
      `${path}.maxSilence`,
      o.maxSilence,
      false,
      (v) => v === false || isPositiveInteger(v),
      'must be a positive integer (ms) or false',
    );
    resolved.push(
      Object.freeze({
        name,
        kind,
        signal,
        target,
        percentile,
        group,
        windowIntervals: windowMs / interval,
        description: description ?? '',
        maxSilence: maxSilence === false ? undefined : maxSilence,
      }),
    );
  }
  return resolved;
}

/** The latency targets of each signal, which its histogram takes as boundaries. */
export function latencyTargets(budgets: readonly ResolvedBudget[]): Map<string, number[]> {
  const targets = new Map<string, number[]>();
  for (const b of budgets) {
    if (b.kind !== 'latency') continue;
    const list = targets.get(b.signal);
    if (list) list.push(b.target);
    else targets.set(b.signal, [b.target]);
  }
  return targets;
}

/** Checks that each budget's signal exists and derives the descriptions left empty. */
export function describeBudgets(
  budgets: readonly ResolvedBudget[],
  signals: readonly SignalDefinition[],
): ResolvedBudget[] {
  return budgets.map((budget) => {
    const signal = signals.find((s) => s.name === budget.signal);
    if (!signal) {
      throw invalidOption(
        `budgets.${budget.name}.signal`,
        'must name a built-in signal or one defined in `signals`',
        budget.signal,
      );
    }
    return budget.description
      ? budget
      : Object.freeze({ ...budget, description: describeBudget(budget, signal.unit) });
  });
}

function describeBudget(budget: ResolvedBudget, unit: SignalDefinition['unit']): string {
  const { kind, signal, target, percentile } = budget;
  if (kind === 'latency') return `p${percentile} of ${signal} <= ${target}${unit === '1' ? '' : ` ${unit}`}`;
  if (kind === 'error_rate') return `errors in ${signal} < ${target} %`;
  return `availability of ${signal} > ${target} %`;
}

/** The budget part of the config: how long the windows and histories must be to judge every budget. */
export function budgetsConfig(
  window: WindowConfig,
  rules: BudgetRules,
  budgets: readonly ResolvedBudget[],
): BudgetsConfig {
  const { interval } = window;
  const longestBudgetWindow = Math.max(window.length / interval, ...budgets.map((b) => b.windowIntervals));
  const longestBurnWindow = Math.max(0, ...rules.burnRateWindows.map((w) => w.long / interval));
  return {
    interval,
    windowIntervals: longestBudgetWindow,
    historyIntervals: Math.max(longestBudgetWindow, longestBurnWindow),
    budgets: Object.freeze(budgets.slice()),
    ...rules,
  };
}

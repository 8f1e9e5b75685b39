import {
  bucketLabel,
  budgetObjective,
  KEEL_METRICS,
  type KeelFileConfig,
  prometheusName,
  type ResolvedBudget,
  type SignalDefinition,
} from '@keel/core';
import { promDuration } from './duration.js';

/** The HTTP signal's status label: the only place `/metrics` tells a failed event from a good one. */
export const STATUS_LABEL = 'http_response_status_code';
/** The recorded series every budget's rules produce, one per level and window. */
export const SLI_ERROR_RATIO = 'keel_sli_error:ratio_rate';

/** One budget as Prometheus sees it: the series it reads and how they aggregate. */
export interface BudgetSli {
  readonly budget: ResolvedBudget;
  readonly signal: SignalDefinition;
  /** Share of good events demanded (core's `budgetObjective`). */
  readonly objective: number;
  /** `1 - objective`, rounded to 12 digits so `0.001` is not `0.0010000000000000009`. */
  readonly errorBudget: number;
  /** The signal's group label (e.g. `http_route`) when the budget is fixed to a group or split per group. */
  readonly groupLabel: string | undefined;
  readonly perGroup: boolean;
  /** Label matchers of the budget's series, without braces: the config's selector and a fixed group. */
  readonly matchers: string;
  /** Labels every recorded series and alert of the budget carries beside the aggregated ones. */
  readonly labels: Readonly<Record<string, string>>;
  /** The fleet level (`job`, or `job_<group label>`) and the per-instance level. */
  readonly fleet: Level;
  readonly instance: Level;
}

export interface Level {
  /** The `level` of `level:metric:operations`. */
  readonly name: string;
  /** Labels the level keeps (`sum by`). */
  readonly by: readonly string[];
}

export type SliPlan =
  | { readonly supported: true; readonly sli: BudgetSli }
  | { readonly supported: false; readonly budget: ResolvedBudget; readonly reason: string };

/** Escapes a PromQL string literal's content. */
export function promString(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}

export function matchersOf(labels: Readonly<Record<string, string>>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}="${promString(v)}"`)
    .join(',');
}

/** Every budget of the config, as the series Prometheus can judge it from, or why it cannot. */
export function planSlis(config: KeelFileConfig): SliPlan[] {
  const { keel, prometheus } = config;
  return keel.budgets.map((budget): SliPlan => {
    const signal = keel.signals.find((s) => s.name === budget.signal)!;
    if (budget.kind !== 'latency' && !signal.labels.includes(STATUS_LABEL)) {
      return {
        supported: false,
        budget,
        reason: `${budget.name} counts failed events of ${signal.name}, and /metrics has no label that says which of them failed (only the HTTP signal's ${STATUS_LABEL} does)`,
      };
    }
    const perGroup = prometheus.perGroup.includes(budget.name);
    const groupLabel = budget.group !== undefined || perGroup ? signal.groupBy : undefined;
    const fixed: Record<string, string> =
      budget.group !== undefined && groupLabel ? { [groupLabel]: budget.group } : {};
    // Rounded like the error budget: 99.9 / 100 is 0.9990000000000001 in binary.
    const objective = Number(budgetObjective(budget).toPrecision(12));
    const base = [...new Set([...Object.keys(prometheus.selector), 'job'])];
    const split = perGroup && groupLabel ? [groupLabel] : [];
    const suffix = split.length ? `_${split[0]}` : '';
    return {
      supported: true,
      sli: {
        budget,
        signal,
        objective,
        errorBudget: Number((1 - objective).toPrecision(12)),
        groupLabel,
        perGroup,
        matchers: matchersOf({ ...prometheus.selector, ...fixed }),
        labels: { budget: budget.name, ...fixed },
        fleet: { name: `job${suffix}`, by: [...base, ...split] },
        instance: { name: `instance${suffix}`, by: [...base, 'instance', ...split] },
      },
    };
  });
}

/** The recorded rate of a budget's events, per second: each instance's weight in the fleet's ratio. */
export const SLI_EVENTS_RATE = 'keel_sli_events:rate';

/** Name of a budget's recorded event rate at a level and window: `instance:keel_sli_events:rate5m`. */
export function recordedEvents(level: Level, windowMs: number): string {
  return `${level.name}:${SLI_EVENTS_RATE}${promDuration(windowMs)}`;
}

/** Events per second of a budget over a window, per `level`. */
export function eventsRateExpr(sli: BudgetSli, windowMs: number, level: Level): string {
  return `sum by (${level.by.join(', ')}) (rate(${prometheusName(sli.signal)}_count{${sli.matchers}}[${promDuration(windowMs)}]))`;
}

/** Name of a budget's recorded error ratio at a level and window: `job:keel_sli_error:ratio_rate5m`. */
export function recordedRatio(level: Level, windowMs: number): string {
  return `${level.name}:${SLI_ERROR_RATIO}${promDuration(windowMs)}`;
}

/**
 * The bad share of a budget's events over a window, per `level`: Keel's own
 * definition of a bad event, read from what Keel exports.
 * - latency: events above the target, from the exact `le` bucket Keel adds
 *   for the target (never `histogram_quantile`, which interpolates);
 * - error rate: 5xx answers (also 4xx but 499 with `http.clientErrorsAreErrors`),
 *   Keel's own 503s (shed, circuit open, not ready, cut off) included;
 * - availability: good answers times the share of scrapes the instance was
 *   ready (`keel_ready` over `up`), as Keel multiplies request and ready shares.
 * No events in the window gives no sample (Keel says `no_data`), except
 * availability, where an idle ready instance is available.
 */
export function errorRatioExpr(
  sli: BudgetSli,
  config: KeelFileConfig,
  windowMs: number,
  level: Level,
): string {
  const w = promDuration(windowMs);
  const sum = `sum by (${level.by.join(', ')})`;
  const metric = prometheusName(sli.signal);
  const total = `${sum} (rate(${metric}_count{${sli.matchers}}[${w}]))`;
  if (sli.budget.kind === 'latency') {
    const le = bucketLabel(sli.signal, sli.budget.target);
    const good = `${sum} (rate(${metric}_bucket{${sli.matchers},le="${le}"}[${w}]))`;
    return `(\n  ${total}\n  -\n  ${good}\n)\n/\n(${total} > 0)`;
  }
  const badStatus = config.keel.clientErrorsAreErrors
    ? `${STATUS_LABEL}=~"4..|5..",${STATUS_LABEL}!="499"`
    : `${STATUS_LABEL}=~"5.."`;
  const bad = `(${sum} (rate(${metric}_count{${sli.matchers},${badStatus}}[${w}])) or 0 * ${total})`;
  if (sli.budget.kind === 'error_rate') return `${bad}\n/\n(${total} > 0)`;

  const instanceLabels = level.by.filter((l) => l !== sli.groupLabel || !sli.perGroup);
  const selector = matchersOf(config.prometheus.selector);
  const sumInstance = `sum by (${instanceLabels.join(', ')})`;
  const ready =
    `${sumInstance} (sum_over_time(${KEEL_METRICS.ready}{${selector}}[${w}]))\n` +
    `  /\n  ${sumInstance} (count_over_time(up{${selector}}[${w}]))`;
  const goodShare = `(${total} - ${bad}) / (${total} > 0)`;
  if (sli.perGroup) {
    return `1 - (\n  ${goodShare}\n) * on (${instanceLabels.join(', ')}) group_left () (\n  ${ready}\n)`;
  }
  // Without requests every request succeeded: the ready share alone decides.
  return `1 - (\n  ${goodShare}\n  or\n  0 * (${ready}) + 1\n) * (\n  ${ready}\n)`;
}

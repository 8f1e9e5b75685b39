import type { KeelFileConfig } from '@keel/core';
import { promDuration } from './duration.js';
import {
  type BudgetSli,
  errorRatioExpr,
  eventsRateExpr,
  matchersOf,
  recordedEvents,
  recordedRatio,
} from './sli.js';
import { type AlertWindow, alertWindows, recordedWindows } from './windows.js';

export interface RecordingRule {
  readonly record: string;
  readonly expr: string;
  readonly labels: Readonly<Record<string, string>>;
}

export interface AlertingRule {
  readonly alert: string;
  readonly expr: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
}

export interface RuleGroup {
  readonly name: string;
  readonly rules: readonly (RecordingRule | AlertingRule)[];
}

/**
 * The alert pairs a budget can use: a pair whose factor times the error
 * budget reaches 100 % could never fire (a 14.4x burn of p75's 25 %), so it is left out.
 */
export function alertWindowsOf(sli: BudgetSli, config: KeelFileConfig): AlertWindow[] {
  return alertWindows(config).filter((w) => w.factor * sli.errorBudget < 1);
}

/** `api_latency` → `KeelApiLatencyBudgetBurn`: one alert name per budget, its pairs told apart by labels. */
export function alertName(budget: string): string {
  const pascal = budget
    .split('_')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
  return `Keel${pascal}BudgetBurn`;
}

export const OBJECTIVE_RECORD = 'keel_budget:objective:ratio';
export const ERROR_BUDGET_RECORD = 'keel_budget:error_budget:ratio';
export const REMAINING_RECORD = 'keel_error_budget_remaining:ratio';

function percent(share: number): string {
  return `${Number((share * 100).toPrecision(10))} %`;
}

/** The rule group of one budget: error ratios per window and level, metadata, alerts. */
export function budgetRuleGroup(sli: BudgetSli, config: KeelFileConfig): RuleGroup {
  const { service } = config.keel;
  const name = sli.budget.name;
  const staticLabels = { ...config.prometheus.selector, ...sli.labels };

  const recordings: RecordingRule[] = [];
  // Per instance only the windows Keel reports burn rates for in /health, where the two can be compared;
  // the fleet gets every window the alerts and the period need.
  const instanceWindows = new Set(config.prometheus.pageWindows.flatMap((w) => [w.short, w.long]));
  for (const level of [sli.instance, sli.fleet]) {
    for (const window of recordedWindows(config)) {
      if (level === sli.instance && !instanceWindows.has(window)) continue;
      const labels = { ...sli.labels, window: promDuration(window) };
      recordings.push({
        record: recordedRatio(level, window),
        expr: errorRatioExpr(sli, config, window, level),
        labels,
      });
      // Traffic in Keel's own windows: what weighs each instance's ratio in the fleet's.
      if (instanceWindows.has(window))
        recordings.push({
          record: recordedEvents(level, window),
          expr: eventsRateExpr(sli, window, level),
          labels,
        });
    }
  }

  const period = config.prometheus.period;
  const budgetMatchers = matchersOf(staticLabels);
  const meta: RecordingRule[] = [
    { record: OBJECTIVE_RECORD, expr: `vector(${sli.objective})`, labels: staticLabels },
    { record: ERROR_BUDGET_RECORD, expr: `vector(${sli.errorBudget})`, labels: staticLabels },
    {
      record: `${sli.fleet.name}:${REMAINING_RECORD}`,
      expr: `1 - max without (window) (${recordedRatio(sli.fleet, period)}{${budgetMatchers}}) / ${sli.errorBudget}`,
      labels: { ...sli.labels, period: promDuration(period) },
    },
  ];

  const alerts = alertWindowsOf(sli, config).map((w) => alertRule(sli, config, w, budgetMatchers));
  // One group, in this order: Prometheus evaluates a group's rules one after the other at the same
  // timestamp, so the metadata and alerts read ratios recorded that instant, never a step old.
  return { name: `keel-${service}-${name}`, rules: [...recordings, ...meta, ...alerts] };
}

function alertRule(sli: BudgetSli, config: KeelFileConfig, w: AlertWindow, matchers: string): AlertingRule {
  const threshold = `(${w.factor} * ${sli.errorBudget})`;
  const side = (window: number) =>
    `max without (window) (${recordedRatio(sli.fleet, window)}{${matchers}} >= ${threshold})`;
  const short = promDuration(w.short);
  const long = promDuration(w.long);
  const { service } = config.keel;
  const budget = sli.budget.name;
  const where = sli.perGroup && sli.groupLabel ? ` on {{ $labels.${sli.groupLabel} }}` : '';
  const lasts = promDuration(Math.max(1000, Math.round(config.prometheus.period / w.factor / 1000) * 1000));
  const annotations: Record<string, string> = {
    summary: `${service}: ${budget}${where} burns its error budget ${w.factor}x too fast (${short} and ${long})`,
    description:
      `${sli.budget.description} (objective ${percent(sli.objective)}). Over both the last ${short} and ${long}, ` +
      `more than ${w.factor} x ${percent(sli.errorBudget)} of events were bad: at this rate the ` +
      `${promDuration(config.prometheus.period)} error budget is gone in ${lasts}.`,
  };
  if (config.prometheus.runbookUrl) annotations.runbook_url = `${config.prometheus.runbookUrl}#${budget}`;
  else
    annotations.runbook = `GET /health on the instances of ${service}: budgets (${budget}) has its state, value and burn rates; signals[].top names the groups that cost the most time.`;
  return {
    alert: alertName(budget),
    expr: `${side(w.short)}\nand\n${side(w.long)}`,
    labels: { ...config.prometheus.alertLabels, severity: w.severity, short, long },
    annotations,
  };
}

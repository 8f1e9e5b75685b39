import { bucketLabel, KEEL_METRICS, type KeelFileConfig, prometheusName } from '@keel/core';
import { promDuration } from './duration.js';
import type { PrometheusRules } from './prometheus-rules.js';
import { type AlertingRule, alertName, alertWindowsOf } from './rule-groups.js';
import { type BudgetSli, STATUS_LABEL } from './sli.js';
import { type AlertWindow, alertWindows, type Severity } from './windows.js';

/** Events per sample step in the synthetic series: a bad share is exact to 0.001 %. */
const EVENTS_PER_STEP = 100_000;
/** A check is asserted only where every alert's condition clears its threshold by this much. */
const MARGIN = 0.05;

interface Check {
  readonly at: number;
  readonly firing: readonly AlertWindow[];
}

interface Scenario {
  readonly title: string;
  /** Which test file: page scenarios need a fine step, ticket ones a coarse one (hours, not minutes). */
  readonly file: Severity;
  readonly badShare: number;
  /** Healthy time before the bad share starts, ms. */
  readonly preRoll: number;
  readonly checks: readonly Check[];
}

export interface RuleTestFile {
  readonly severity: Severity;
  /** Sampling and evaluation step, ms. */
  readonly step: number;
  readonly content: unknown;
  readonly groups: number;
}

export interface RuleTests {
  readonly files: readonly RuleTestFile[];
  /** Scenarios left out, and why (an alert pair that cannot fire, no time to assert safely). */
  readonly skipped: readonly string[];
}

/** Sampling and evaluation step for some alert pairs: a fifth of the shortest window, whole seconds. */
export function testStep(windows: readonly AlertWindow[]): number {
  const shortest = Math.min(...windows.map((w) => w.short));
  return Math.max(1000, Math.floor(shortest / 5 / 1000) * 1000);
}

/**
 * promtool unit tests for the generated rules. For each budget, synthetic
 * series (healthy, then a constant bad share) and the times at which each
 * alert pair must, and must not, fire — worked out from the windows'
 * arithmetic, away from any threshold, so a test fails only when the rules are
 * wrong. Two files, each with the step its windows need: page pairs are
 * minutes long, ticket pairs hours, and promtool evaluates every rule at every step.
 */
export function ruleTests(rules: PrometheusRules, config: KeelFileConfig, rulesFile: string): RuleTests {
  const windows = alertWindows(config);
  const skipped: string[] = [];
  const files: RuleTestFile[] = [];
  for (const severity of ['page', 'ticket'] as const) {
    const own = windows.filter((w) => w.severity === severity);
    if (own.length === 0) continue;
    const step = testStep(own);
    const tests: unknown[] = [];
    for (const sli of rules.slis) {
      const alerts = rules.groups
        .flatMap((g) => g.rules)
        .filter((r): r is AlertingRule => 'alert' in r && r.alert === alertName(sli.budget.name));
      for (const scenario of scenariosOf(sli, config, severity, step, skipped)) {
        tests.push(testGroup(sli, config, step, scenario, alerts));
      }
    }
    files.push({
      severity,
      step,
      groups: tests.length,
      content: { rule_files: [rulesFile], evaluation_interval: promDuration(step), tests },
    });
  }
  return { files, skipped };
}

/** The error ratio over `window` at `t`, with the bad share starting at `preRoll` (series start at 0). */
function ratioAt(badShare: number, preRoll: number, t: number, window: number): number {
  const bad = Math.min(Math.max(0, t - preRoll), window);
  return bad === 0 ? 0 : (badShare * bad) / Math.min(window, t);
}

/**
 * Whether a pair fires at `t`: `true` or `false` only when it holds from a
 * step before to a step after (the samples a window holds shift by up to a
 * step) with `MARGIN` to spare.
 */
function firesAt(
  w: AlertWindow,
  errorBudget: number,
  badShare: number,
  preRoll: number,
  t: number,
  step: number,
) {
  const threshold = w.factor * errorBudget;
  let answer: boolean | undefined;
  for (let at = Math.max(step, t - step); at <= t + step; at += step) {
    const short = ratioAt(badShare, preRoll, at, w.short);
    const long = ratioAt(badShare, preRoll, at, w.long);
    const yes = short >= threshold * (1 + MARGIN) && long >= threshold * (1 + MARGIN);
    const no = short < threshold * (1 - MARGIN) || long < threshold * (1 - MARGIN);
    const now = yes ? true : no ? false : undefined;
    if (now === undefined || (answer !== undefined && now !== answer)) return undefined;
    answer = now;
  }
  return answer;
}

function scenariosOf(
  sli: BudgetSli,
  config: KeelFileConfig,
  file: Severity,
  step: number,
  skipped: string[],
): Scenario[] {
  const windows = alertWindowsOf(sli, config);
  const e = sli.errorBudget;
  const name = sli.budget.name;
  const exact = (share: number) => Math.round(Math.min(1, share) * EVENTS_PER_STEP) / EVENTS_PER_STEP;
  const stateAt = (badShare: number, preRoll: number, t: number) => {
    const states = windows.map((w) => firesAt(w, e, badShare, preRoll, t, step));
    return states.includes(undefined) ? undefined : windows.filter((_, i) => states[i]);
  };

  /** A burn that makes `target` fire: checked before it may fire and after it must. */
  const burn = (
    title: string,
    target: AlertWindow,
    badShare: number,
    preRoll: number,
  ): Scenario | undefined => {
    if (target.factor * e * (1 + MARGIN) >= badShare) {
      skipped.push(`${name}: ${title}: a ${target.factor}x burn needs more than 100 % bad events`);
      return undefined;
    }
    const limit = preRoll + 4 * target.long;
    let first: number | undefined;
    for (let t = preRoll + step; t <= limit && first === undefined; t += step) {
      if (firesAt(target, e, badShare, preRoll, t, step)) first = t;
    }
    if (first === undefined) {
      skipped.push(`${name}: ${title}: no time at which it surely fires`);
      return undefined;
    }
    const latestQuiet = preRoll + 0.9 * (first - preRoll);
    let before: Check | undefined;
    for (let t = Math.floor(latestQuiet / step) * step; t > preRoll && !before; t -= step) {
      const firing = stateAt(badShare, preRoll, t);
      if (firing && !firing.includes(target)) before = { at: t, firing };
    }
    let after: Check | undefined;
    for (let t = first; t <= limit && !after; t += step) {
      const firing = stateAt(badShare, preRoll, t);
      if (firing?.includes(target)) after = { at: t, firing };
    }
    if (!after) {
      skipped.push(`${name}: ${title}: no time at which every alert's state is certain`);
      return undefined;
    }
    return { title, file, badShare, preRoll, checks: before ? [before, after] : [after] };
  };

  const scenarios: (Scenario | undefined)[] = [];
  if (file === 'page') {
    const page = windows.find((w) => w.severity === 'page');
    // The bad share starts one short window in: the long window then crosses the threshold at a time the arithmetic gives.
    if (page)
      scenarios.push(
        burn(`fast burn pages (${describe(page)})`, page, exact(2 * page.factor * e), page.short),
      );
    const shortest = Math.min(
      ...alertWindows(config)
        .filter((w) => w.severity === 'page')
        .map((w) => w.short),
    );
    const lowest = Math.min(...windows.map((w) => w.factor));
    const healthy = exact(0.5 * lowest * e);
    const quiet = [2, 3].map((n) => Math.round((n * shortest) / step) * step);
    if (healthy > 0 && quiet.every((t) => stateAt(healthy, 0, t)?.length === 0)) {
      scenarios.push({
        title: `a burn below every alert's factor (${Number((healthy * 100).toPrecision(6))} % bad) fires nothing`,
        file,
        badShare: healthy,
        preRoll: 0,
        checks: quiet.map((at) => ({ at, firing: [] })),
      });
    } else skipped.push(`${name}: no bad share low enough to stay quiet at 0.001 % resolution`);
  } else {
    const ticket = windows.find((w) => w.severity === 'ticket');
    if (!ticket) return [];
    const pageFactors = windows.filter((w) => w.severity === 'page').map((w) => w.factor);
    const lowestPage = Math.min(...pageFactors, Number.POSITIVE_INFINITY);
    // Below every page factor when possible, so the test shows a ticket without a page.
    const factor =
      lowestPage > ticket.factor
        ? Math.min(1.5 * ticket.factor, (ticket.factor + lowestPage) / 2)
        : 1.5 * ticket.factor;
    scenarios.push(
      burn(`slow burn opens a ticket (${describe(ticket)})`, ticket, exact(factor * e), ticket.short),
    );
  }
  return scenarios.filter((s): s is Scenario => s !== undefined);
}

function describe(w: AlertWindow): string {
  return `${w.factor}x over ${promDuration(w.short)} and ${promDuration(w.long)}`;
}

function seriesName(metric: string, labels: Record<string, string>): string {
  const inner = Object.entries(labels)
    .map(([k, v]) => `${k}="${v.replace(/[\\"]/g, (c) => `\\${c}`)}"`)
    .join(',');
  return `${metric}{${inner}}`;
}

/** A counter growing `before` per step up to `preRollSteps`, then `after` per step, in promtool's notation. */
function counter(before: number, after: number, preRollSteps: number, steps: number): string {
  const head = `0+${before}x${preRollSteps}`;
  const rest = steps - preRollSteps;
  if (rest <= 0) return head;
  return `${head} ${preRollSteps * before + after}+${after}x${rest - 1}`;
}

function testGroup(
  sli: BudgetSli,
  config: KeelFileConfig,
  step: number,
  scenario: Scenario,
  alerts: readonly AlertingRule[],
) {
  const end = Math.max(...scenario.checks.map((c) => c.at)) + step;
  const steps = Math.ceil(end / step);
  const preRollSteps = Math.round(scenario.preRoll / step);
  const bad = Math.round(scenario.badShare * EVENTS_PER_STEP);
  const good = EVENTS_PER_STEP - bad;
  const target = { ...config.prometheus.selector, instance: 'synthetic:3000' };
  const group: Record<string, string> = {};
  if (sli.groupLabel) group[sli.groupLabel] = sli.budget.group ?? '/synthetic';
  const metric = prometheusName(sli.signal);
  const http = sli.signal.labels.includes(STATUS_LABEL);
  const labels = (status: string) => ({
    ...target,
    ...(http ? { http_request_method: 'GET' } : {}),
    ...group,
    ...(http ? { [STATUS_LABEL]: status } : {}),
  });

  const input: { series: string; values: string }[] = [];
  const everyStep = counter(EVENTS_PER_STEP, EVENTS_PER_STEP, preRollSteps, steps);
  if (sli.budget.kind === 'latency') {
    input.push({ series: seriesName(`${metric}_count`, labels('200')), values: everyStep });
    input.push({
      series: seriesName(`${metric}_bucket`, {
        ...labels('200'),
        le: bucketLabel(sli.signal, sli.budget.target),
      }),
      values: counter(EVENTS_PER_STEP, good, preRollSteps, steps),
    });
  } else {
    input.push({
      series: seriesName(`${metric}_count`, labels('200')),
      values: counter(EVENTS_PER_STEP, good, preRollSteps, steps),
    });
    input.push({
      series: seriesName(`${metric}_count`, labels('500')),
      values: counter(0, bad, preRollSteps, steps),
    });
    if (sli.budget.kind === 'availability') {
      input.push({ series: seriesName(KEEL_METRICS.ready, target), values: `1+0x${steps}` });
      input.push({ series: seriesName('up', target), values: `1+0x${steps}` });
    }
  }

  const expected = (w: AlertWindow) => {
    const rule = alerts.find(
      (a) => a.labels.short === promDuration(w.short) && a.labels.long === promDuration(w.long),
    )!;
    const fill = (text: string) =>
      text.replace(/\{\{ \$labels\.(\w+) \}\}/g, (_, k: string) => group[k] ?? '');
    return {
      exp_labels: {
        ...rule.labels,
        ...config.prometheus.selector,
        ...sli.labels,
        ...(sli.perGroup ? group : {}),
      },
      exp_annotations: Object.fromEntries(Object.entries(rule.annotations).map(([k, v]) => [k, fill(v)])),
    };
  };

  return {
    name: `${sli.budget.name}: ${scenario.title}`,
    interval: promDuration(step),
    input_series: input,
    alert_rule_test: scenario.checks.map((check) => ({
      eval_time: promDuration(check.at),
      alertname: alertName(sli.budget.name),
      exp_alerts: check.firing.map(expected),
    })),
  };
}

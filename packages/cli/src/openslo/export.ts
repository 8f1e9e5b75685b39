import { bucketLabel, type KeelFileConfig, prometheusName } from '@keel/core';
import { promDuration } from '../rules/duration.js';
import { type BudgetSli, planSlis, STATUS_LABEL } from '../rules/sli.js';

/** Annotations that carry a Keel budget through OpenSLO unchanged (`keel slo import` reads them back). */
export const ANNOTATION = {
  budget: 'keel.dev/budget',
  kind: 'keel.dev/kind',
  signal: 'keel.dev/signal',
  target: 'keel.dev/target',
  percentile: 'keel.dev/percentile',
  group: 'keel.dev/group',
} as const;

/** `studio-api` + `api_latency` → `studio-api-api-latency`: OpenSLO names are DNS labels. */
export function openSloName(service: string, budget: string): string {
  return `${service}-${budget}`
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .slice(0, 63)
    .replace(/-+$/, '');
}

function source(query: string) {
  return { metricSource: { type: 'Prometheus', spec: { query } } };
}

/** One OpenSLO v1 `SLO` per budget Prometheus can judge, its SLI as a ratio of Keel's own counters. */
export function toOpenSlo(config: KeelFileConfig): Record<string, unknown>[] {
  return planSlis(config).flatMap((plan) => (plan.supported ? [sloOf(plan.sli, config)] : []));
}

function sloOf(sli: BudgetSli, config: KeelFileConfig): Record<string, unknown> {
  const { budget, signal } = sli;
  const metric = prometheusName(signal);
  const selector = (...more: string[]) => `{${[sli.matchers, ...more].filter(Boolean).join(',')}}`;
  // 499 (the client gave up) is never a failure; with clientErrorsAreErrors other 4xx are.
  const failedStatus = config.keel.clientErrorsAreErrors ? '4[0-8][0-9]|49[0-8]|5..' : '5..';
  const total = source(`${metric}_count${selector()}`);
  const ratio: Record<string, unknown> =
    budget.kind === 'latency'
      ? { good: source(`${metric}_bucket${selector(`le="${bucketLabel(signal, budget.target)}"`)}`), total }
      : budget.kind === 'availability'
        ? // Stated as good events; Keel also multiplies in the share of time ready.
          { good: source(`${metric}_count${selector(`${STATUS_LABEL}!~"${failedStatus}"`)}`), total }
        : { bad: source(`${metric}_count${selector(`${STATUS_LABEL}=~"${failedStatus}"`)}`), total };
  const name = openSloName(config.keel.service, budget.name);
  const annotations: Record<string, string> = {
    [ANNOTATION.budget]: budget.name,
    [ANNOTATION.kind]: budget.kind,
    [ANNOTATION.signal]: budget.signal,
    [ANNOTATION.target]: String(budget.target),
  };
  if (budget.kind === 'latency') annotations[ANNOTATION.percentile] = String(budget.percentile);
  if (budget.group !== undefined) annotations[ANNOTATION.group] = budget.group;
  return {
    apiVersion: 'openslo/v1',
    kind: 'SLO',
    metadata: { name, displayName: `${config.keel.service} ${budget.name}`, annotations },
    spec: {
      description: budget.description,
      service: config.keel.service,
      indicator: { metadata: { name }, spec: { ratioMetric: { counter: true, ...ratio } } },
      timeWindow: [{ duration: promDuration(config.prometheus.period), isRolling: true }],
      budgetingMethod: 'Occurrences',
      objectives: [{ displayName: budget.description, target: sli.objective }],
    },
  };
}

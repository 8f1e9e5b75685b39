import { HOURS_PER_MONTH, type KeelFileConfig } from '@keel/core';

/** What the autoscaler's bounds cost a month, from the config's `cost` (or `null` without one). */
export interface ReplicaCost {
  readonly currency: string;
  readonly instanceHourly: number;
  readonly min: { readonly replicas: number; readonly monthly: number };
  readonly max: { readonly replicas: number; readonly monthly: number };
}

export function replicaCost(config: KeelFileConfig): ReplicaCost | null {
  const cost = config.keel.cost;
  if (!cost) return null;
  const { min, max } = config.kubernetes.replicas;
  const monthly = (replicas: number) =>
    Math.round(replicas * cost.instanceHourly * HOURS_PER_MONTH * 100) / 100;
  return {
    currency: cost.currency,
    instanceHourly: cost.instanceHourly,
    min: { replicas: min, monthly: monthly(min) },
    max: { replicas: max, monthly: monthly(max) },
  };
}

/** One line: `2 replicas 146.00 USD/month, 8 replicas 584.00 USD/month`. */
export function describeReplicaCost(c: ReplicaCost): string {
  const one = (r: { replicas: number; monthly: number }) =>
    `${r.replicas} replica${r.replicas === 1 ? '' : 's'} ${r.monthly.toFixed(2)} ${c.currency}/month`;
  return `${one(c.min)} (min), ${one(c.max)} (max)`;
}

/** The comment above the autoscalers: what scaling between the bounds costs, or how to see it. */
export function replicaCostComment(c: ReplicaCost | null): string {
  if (!c)
    return '# Cost: not configured; set cost.instanceHourly and cost.currency in the Keel config to see it here.\n';
  return (
    `# Cost: ${describeReplicaCost(c)}, at ${c.instanceHourly} ${c.currency} per replica-hour × ${HOURS_PER_MONTH} h.\n` +
    "# What one replica serves is measured by the app: /health's capacity.rpsPerInstance.\n"
  );
}

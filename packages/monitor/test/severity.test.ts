import type { BudgetSnapshot, HealthReport } from '@keel/core';
import { describe, expect, it } from 'vitest';
import { assessSeverity } from '../src/index.js';

type Kind = BudgetSnapshot['kind'];

/** A breached budget with just the numbers severity reads. */
function breached(kind: Kind, value: number, extra: Partial<BudgetSnapshot> = {}): BudgetSnapshot {
  const defaults: Record<Kind, Partial<BudgetSnapshot>> = {
    latency: { target: 200, objective: 0.95, unit: 'ms', errorBudgetUsed: 2 },
    error_rate: { target: 0.1, objective: 0.999, unit: '%', errorBudgetUsed: 1.5 },
    availability: { target: 99.9, objective: 0.999, unit: '%', errorBudgetUsed: 1.5 },
  };
  return {
    name: `${kind}_${value}`,
    kind,
    signal: 'http.server.request.duration',
    group: undefined,
    description: '',
    state: 'breached',
    since: 0,
    value,
    samples: 1000,
    burnRates: [],
    ...defaults[kind],
    ...extra,
  } as BudgetSnapshot;
}

function report(budgets: BudgetSnapshot[], score = 6, ready = true): HealthReport {
  return {
    score,
    budgets,
    readiness: { ready, reasons: ready ? [] : ['starting'] },
  } as unknown as HealthReport;
}

const sev = (r: HealthReport) => assessSeverity(r).severity;

/**
 * Each rule at its threshold: just below, at, just above. The rules, most
 * severe first (README, decision 0007): SEV1 not ready / availability ≥ 5 %
 * failing / ≥ 50 % affected / score < 2; SEV2 ≥ 20 % affected / ≥ 2 budgets
 * / ≥ 4× over / score < 5; SEV3 one budget; SEV4 score drop only.
 */
describe('severity: scope × user impact, at each threshold', () => {
  it('not ready is SEV1', () => {
    expect(sev(report([breached('latency', 300)], 6, false))).toBe('SEV1');
    expect(sev(report([breached('latency', 300)], 6, true))).toBe('SEV3');
  });

  it('availability breached with 5 % failing: 94.99 % and 95 % are SEV1, 95.01 % is not', () => {
    expect(sev(report([breached('availability', 95.01)]))).toBe('SEV3');
    expect(sev(report([breached('availability', 95)]))).toBe('SEV1');
    expect(sev(report([breached('availability', 94.99)]))).toBe('SEV1');
  });

  it('50 % of traffic affected is SEV1; 49.9 % is SEV2', () => {
    expect(sev(report([breached('error_rate', 49.9)]))).toBe('SEV2');
    expect(sev(report([breached('error_rate', 50)]))).toBe('SEV1');
    expect(sev(report([breached('error_rate', 50.1)]))).toBe('SEV1');
    // Latency: share over target = error budget used × (1 − objective): 10 × 5 % = 50 %.
    expect(sev(report([breached('latency', 300, { errorBudgetUsed: 9.98 })]))).toBe('SEV2');
    expect(sev(report([breached('latency', 300, { errorBudgetUsed: 10 })]))).toBe('SEV1');
  });

  it('a score below 2 is SEV1; 2 is not', () => {
    expect(sev(report([breached('latency', 300)], 2.01))).toBe('SEV2');
    expect(sev(report([breached('latency', 300)], 2))).toBe('SEV2');
    expect(sev(report([breached('latency', 300)], 1.99))).toBe('SEV1');
  });

  it('20 % of traffic affected is SEV2; 19.9 % is SEV3', () => {
    expect(sev(report([breached('error_rate', 19.9)]))).toBe('SEV3');
    expect(sev(report([breached('error_rate', 20)]))).toBe('SEV2');
    expect(sev(report([breached('error_rate', 20.1)]))).toBe('SEV2');
  });

  it('two budgets breached is SEV2; one is SEV3', () => {
    expect(sev(report([breached('latency', 300)]))).toBe('SEV3');
    expect(sev(report([breached('latency', 300), breached('error_rate', 1)]))).toBe('SEV2');
    expect(
      sev(report([breached('latency', 300), breached('error_rate', 1), breached('availability', 99)])),
    ).toBe('SEV2');
  });

  it('a budget 4× over its target is SEV2; 3.995× is SEV3', () => {
    expect(sev(report([breached('latency', 799)]))).toBe('SEV3');
    expect(sev(report([breached('latency', 800)]))).toBe('SEV2');
    expect(sev(report([breached('latency', 801)]))).toBe('SEV2');
    // Error budgets: 4× spent.
    expect(sev(report([breached('error_rate', 1, { errorBudgetUsed: 3.99 })]))).toBe('SEV3');
    expect(sev(report([breached('error_rate', 1, { errorBudgetUsed: 4 })]))).toBe('SEV2');
  });

  it('a score below 5 is SEV2; 5 is SEV3', () => {
    expect(sev(report([breached('latency', 300)], 5.01))).toBe('SEV3');
    expect(sev(report([breached('latency', 300)], 5))).toBe('SEV3');
    expect(sev(report([breached('latency', 300)], 4.99))).toBe('SEV2');
  });

  it('no budget breached: SEV4, and the score rules still apply', () => {
    expect(sev(report([], 7.5))).toBe('SEV4');
    expect(sev(report([], 4.99))).toBe('SEV2');
    expect(sev(report([], 1.99))).toBe('SEV1');
  });
});

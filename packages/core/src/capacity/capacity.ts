import type { BudgetSnapshot } from '../budgets/budget.js';
import { round } from '../health/report.js';
import type { Signal } from '../signals/signal.js';
import { CapacityModel, type CapacitySnapshot } from './capacity-model.js';
import { type CapacityConfig, type CostConfig, HOURS_PER_MONTH } from './capacity-options.js';
import { type CapacityChange, type CostEstimate, estimateCost, price } from './cost.js';
import { processReadings } from './process-readings.js';

/** Where the model's numbers come from (the model, in Keel; a fixture in tests). */
export interface CapacitySource {
  readonly snapshot: CapacitySnapshot;
}

/**
 * `keel.capacity`: what one instance can serve, measured, and what a change
 * in capacity costs. The monitor prices its capacity actions with `costOf`,
 * the optimisation loop its suggestions, `/health` shows `json()` as its
 * `capacity` section.
 */
export class Capacity {
  readonly config: CapacityConfig;
  /** The `cost` option, or `null` when prices are not configured. */
  readonly cost: CostConfig | null;
  readonly #source: CapacitySource;

  constructor(config: CapacityConfig, cost: CostConfig | null, source: CapacitySource) {
    this.config = config;
    this.cost = cost;
    this.#source = source;
  }

  /** The model as of the last closed interval. */
  get snapshot(): CapacitySnapshot {
    return this.#source.snapshot;
  }

  /**
   * What a change costs per month and the capacity it buys (or frees), from
   * the `cost` option and the measured capacity.
   *
   * @example
   * keel.capacity.costOf({ dbConnections: 10 }).text // '+10 connections per instance: +7.30 USD/month, ...'
   */
  costOf(change: CapacityChange): CostEstimate {
    return estimateCost(change, this.cost, this.snapshot);
  }

  /** The `capacity` section of `/health`. `budgets` tell whether more instances would help. */
  json(budgets: readonly BudgetSnapshot[]) {
    const s = this.snapshot;
    const cost = this.cost;
    const n = (v: number | null) => (v === null ? null : round(v));
    // Per-request costs are fractions of a millisecond: to the nanosecond, so derived rates stay exact.
    const fine = (v: number | null) => (v === null ? null : Math.round(v * 1e6) / 1e6);
    const monthly = (instances: number | null) =>
      cost && instances !== null ? round(instances * cost.instanceHourly * HOURS_PER_MONTH) : null;
    return {
      measuredAt: s.measuredAt === null ? null : new Date(s.measuredAt).toISOString(),
      windowSeconds: round(s.seconds),
      requests: s.requests,
      rps: round(s.rps),
      cpuMsPerRequest: fine(s.cpuMsPerRequest),
      busyMsPerRequest: fine(s.busyMsPerRequest),
      cpuCores: round(s.cpuCores),
      eventLoopUtilization: round(s.eventLoopUtilization),
      targetUtilization: s.targetUtilization,
      rpsPerInstance: n(s.rpsPerInstance),
      limitedBy: s.limitedBy,
      headroomRps: n(s.headroomRps),
      instances: s.instances,
      instancesNeeded: s.instancesNeeded,
      routes: s.routes.map((r) => ({ ...r, rps: round(r.rps), share: round(r.share) })),
      cost: cost && {
        currency: cost.currency,
        instanceHourly: cost.instanceHourly,
        dbConnectionHourly: cost.dbConnectionHourly,
        monthlyNow: monthly(s.instances),
        monthlyNeeded: monthly(s.instancesNeeded),
      },
      advice: this.advice(budgets),
    };
  }

  /** One sentence: how many instances the traffic needs, what that costs, or why scaling would not help. */
  advice(budgets: readonly BudgetSnapshot[]): string {
    const s = this.snapshot;
    if (s.rpsPerInstance === null || s.instancesNeeded === null)
      return `not enough requests measured yet (${s.requests} in ${round(s.seconds)} s)`;
    const target = `${Math.round(s.targetUtilization * 100)} %`;
    const slow = budgets.find((b) => b.kind === 'latency' && b.state === 'breached');
    if (
      slow &&
      s.eventLoopUtilization < s.targetUtilization &&
      s.cpuCores < this.config.cpus * s.targetUtilization
    )
      return (
        `${slow.name} is breached while the event loop is ${Math.round(s.eventLoopUtilization * 100)} % busy ` +
        `(target ${target}): more instances would not fix it; look at what requests wait for (database, dependencies)`
      );
    const each = `one instance serves ${round(s.rpsPerInstance)} req/s at ${target} utilisation`;
    const delta = s.instancesNeeded - s.instances;
    if (delta === 0)
      return `${each}; the ${s.instances} running fit the current ${round(s.rps * s.instances)} req/s${this.#atNow(s.instances)}`;
    const estimate = this.costOf({ instances: delta });
    const verb = delta > 0 ? 'scale out' : 'scale in';
    return `${each}; ${verb} to ${s.instancesNeeded} instance${s.instancesNeeded === 1 ? '' : 's'} for the current ${round(s.rps * s.instances)} req/s (${estimate.text})`;
  }

  #atNow(instances: number): string {
    const cost = this.cost;
    return cost ? ` (${price(instances * cost.instanceHourly * HOURS_PER_MONTH, cost.currency)}/month)` : '';
  }
}

/** Builds an instance's capacity model on its HTTP signal, and `keel.capacity` over it. */
export function createCapacity(
  config: {
    readonly capacity: CapacityConfig;
    readonly cost: CostConfig | null;
    readonly windowIntervals: number;
    readonly minSamples: number;
  },
  http: Signal,
  now: number,
): { capacity: Capacity; model: CapacityModel } {
  const model = new CapacityModel(
    { ...config.capacity, windowIntervals: config.windowIntervals, minRequests: config.minSamples },
    config.cost?.instances ?? 1,
    processReadings(http),
    now,
  );
  return { capacity: new Capacity(config.capacity, config.cost, model), model };
}

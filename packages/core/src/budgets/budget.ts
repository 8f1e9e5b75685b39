import type { SignalDefinition } from '../signals/signal.js';
import { boundaryIndexOf } from '../signals/sketch.js';
import type { WindowSummary } from '../signals/window.js';
import type { BudgetsConfig, BurnRateWindow, ResolvedBudget } from './budget-options.js';
import { budgetObjective } from './objective.js';

export type BudgetState = 'ok' | 'at_risk' | 'breached' | 'no_data';

export interface BurnRate {
  /** e.g. `5m`. */
  readonly shortWindow: string;
  readonly longWindow: string;
  /** Error-budget burn rate over each window; `null` without samples. 1 = burning exactly as fast as allowed. */
  readonly short: number | null;
  readonly long: number | null;
  readonly factor: number;
  /** Both windows burn faster than `factor`: the SRE workbook's alert condition. */
  readonly alerting: boolean;
}

export interface BudgetSnapshot {
  readonly name: string;
  readonly kind: ResolvedBudget['kind'];
  readonly signal: string;
  readonly group: string | undefined;
  readonly description: string;
  readonly state: BudgetState;
  /** When the budget entered `state` (epoch ms). */
  readonly since: number;
  /** The percentile (latency, in `unit`) or percentage (error rate, availability); `null` without data. */
  readonly value: number | null;
  readonly target: number;
  readonly unit: string;
  /** Share of good events the budget demands, e.g. 0.95 for p95, 0.999 for 99.9 %. */
  readonly objective: number;
  /** Samples in the window. */
  readonly samples: number;
  /**
   * End of the last interval that had a sample (epoch ms), or `null` if none
   * ever had: with `state` `no_data` it tells how long the budget has been silent.
   */
  readonly lastSampleAt: number | null;
  /** Share of the error budget consumed in the window: 1 = exactly at target. `null` without data. */
  readonly errorBudgetUsed: number | null;
  readonly burnRates: readonly BurnRate[];
}

/** A budget moved to another state (after hysteresis): the `budget` event. */
export interface BudgetChangeEvent {
  readonly budget: string;
  readonly from: BudgetState;
  readonly to: BudgetState;
  readonly snapshot: BudgetSnapshot;
  readonly at: number;
}

/** What one window says about a budget, before hysteresis. */
export interface Assessment {
  readonly value: number | null;
  readonly samples: number;
  readonly errorBudgetUsed: number | null;
  readonly candidate: BudgetState;
}

export interface WindowTotals {
  good: number;
  total: number;
  readyMs: number;
  elapsedMs: number;
}

const UNIT_LABEL: Record<SignalDefinition['unit'], string> = { ms: 'ms', s: 's', '1': '1', By: 'By' };

/**
 * One budget: judges a window, keeps the good/total history its burn rates
 * need, and moves between states only after `hysteresis` evaluations agree.
 */
export class BudgetTracker {
  readonly budget: ResolvedBudget;
  readonly objective: number;
  readonly unit: string;
  /** Index of the budget's target among the signal's boundaries (latency only). */
  readonly boundary: number;

  readonly #config: BudgetsConfig;
  readonly #good: Float64Array;
  readonly #total: Float64Array;
  readonly #ready: Float64Array;
  readonly #elapsed: Float64Array;
  #head = -1;
  #filled = 0;
  #lastSampleAt: number | null = null;
  #state: BudgetState = 'no_data';
  #since: number;
  #pending: BudgetState | null = null;
  #pendingCount = 0;
  #last: BudgetSnapshot;

  constructor(budget: ResolvedBudget, signal: SignalDefinition, config: BudgetsConfig, now: number) {
    this.budget = budget;
    this.#config = config;
    this.objective = budgetObjective(budget);
    this.unit = budget.kind === 'latency' ? UNIT_LABEL[signal.unit] : '%';
    this.boundary = budget.kind === 'latency' ? boundaryIndexOf(signal.boundaries, budget.target) : -1;
    const n = config.historyIntervals;
    this.#good = new Float64Array(n);
    this.#total = new Float64Array(n);
    this.#ready = new Float64Array(n);
    this.#elapsed = new Float64Array(n);
    this.#since = now;
    this.#last = this.#snapshot({ value: null, samples: 0, errorBudgetUsed: null, candidate: 'no_data' }, []);
  }

  get state(): BudgetState {
    return this.#state;
  }

  get last(): BudgetSnapshot {
    return this.#last;
  }

  /** Good/total of one closed interval, which ended at `end`, for the burn-rate history. */
  push(totals: WindowTotals, end: number): void {
    if (totals.total > 0) this.#lastSampleAt = end;
    this.#head = (this.#head + 1) % this.#good.length;
    this.#good[this.#head] = totals.good;
    this.#total[this.#head] = totals.total;
    this.#ready[this.#head] = totals.readyMs;
    this.#elapsed[this.#head] = totals.elapsedMs;
    this.#filled = Math.min(this.#filled + 1, this.#good.length);
  }

  /** Sums the newest `intervals` entries of the history. */
  history(intervals: number): WindowTotals {
    const totals = { good: 0, total: 0, readyMs: 0, elapsedMs: 0 };
    const n = Math.min(intervals, this.#filled);
    for (let i = 0; i < n; i++) {
      const at = (this.#head - i + this.#good.length) % this.#good.length;
      totals.good += this.#good[at]!;
      totals.total += this.#total[at]!;
      totals.readyMs += this.#ready[at]!;
      totals.elapsedMs += this.#elapsed[at]!;
    }
    return totals;
  }

  /** Good events in a window summary, by this budget's definition of good. */
  goodIn(summary: WindowSummary): number {
    return this.budget.kind === 'latency'
      ? summary.countAtOrBelow(this.boundary)
      : summary.count - summary.bad;
  }

  /**
   * Judges one window. For latency the state comes from exact counts at the
   * target boundary (p95 <= 200 ms holds exactly when >= 95 % of samples are
   * <= 200 ms); the sketch only supplies the value shown.
   */
  assess(summary: WindowSummary, readyMs: number, elapsedMs: number): Assessment {
    const { kind, percentile } = this.budget;
    const samples = summary.count;
    let value: number | null;
    let badShare: number | null;
    if (kind === 'availability') {
      // No requests and never not ready: nothing says the service was available to anyone.
      // Time not ready is measured without requests (a restart's gap, a failing dependency).
      if (samples === 0 && !(elapsedMs > readyMs)) {
        value = null;
        badShare = null;
      } else {
        const requestShare = samples > 0 ? (samples - summary.bad) / samples : 1;
        const availability = requestShare * (elapsedMs > 0 ? readyMs / elapsedMs : 1);
        value = availability * 100;
        badShare = 1 - availability;
      }
    } else if (samples < this.#config.minSamples) {
      value = null;
      badShare = null;
    } else if (kind === 'error_rate') {
      badShare = summary.bad / samples;
      value = badShare * 100;
    } else {
      badShare = (samples - summary.countAtOrBelow(this.boundary)) / samples;
      value = summary.quantile(percentile / 100);
    }
    if (badShare === null) return { value, samples, errorBudgetUsed: null, candidate: 'no_data' };
    const errorBudgetUsed = badShare / (1 - this.objective);
    // A tiny tolerance so 95.0 % good out of 1e6 samples is not judged a breach by rounding.
    const candidate: BudgetState =
      errorBudgetUsed > 1 + 1e-9
        ? 'breached'
        : errorBudgetUsed >= this.#config.atRiskRatio
          ? 'at_risk'
          : 'ok';
    return { value, samples, errorBudgetUsed, candidate };
  }

  burnRates(): BurnRate[] {
    return this.#config.burnRateWindows.map((w) => this.#burnRate(w));
  }

  /** Applies hysteresis to a fresh assessment and records the snapshot. */
  evaluate(
    assessment: Assessment,
    now: number,
  ): { snapshot: BudgetSnapshot; changedFrom: BudgetState | null } {
    const burnRates = this.burnRates();
    let candidate = assessment.candidate;
    // A burn-rate alert means the error budget is going fast even if this window still passes.
    if (candidate === 'ok' && burnRates.some((b) => b.alerting)) candidate = 'at_risk';
    let changedFrom: BudgetState | null = null;
    if (candidate === this.#state) {
      this.#pending = null;
      this.#pendingCount = 0;
    } else {
      this.#pendingCount = candidate === this.#pending ? this.#pendingCount + 1 : 1;
      this.#pending = candidate;
      if (this.#pendingCount >= this.#config.hysteresis) {
        changedFrom = this.#state;
        this.#state = candidate;
        this.#since = now;
        this.#pending = null;
        this.#pendingCount = 0;
      }
    }
    this.#last = this.#snapshot(assessment, burnRates);
    return { snapshot: this.#last, changedFrom };
  }

  #burnRate(w: BurnRateWindow): BurnRate {
    const interval = this.#config.interval;
    const burn = (ms: number) => {
      const t = this.history(ms / interval);
      let bad: number;
      if (this.budget.kind === 'availability') {
        if (t.elapsedMs === 0) return null;
        const requestShare = t.total > 0 ? t.good / t.total : 1;
        bad = 1 - requestShare * (t.readyMs / t.elapsedMs);
      } else {
        if (t.total === 0) return null;
        bad = 1 - t.good / t.total;
      }
      return bad / (1 - this.objective);
    };
    const short = burn(w.short);
    const long = burn(w.long);
    return {
      shortWindow: formatDuration(w.short),
      longWindow: formatDuration(w.long),
      short,
      long,
      factor: w.factor,
      alerting: short !== null && long !== null && short >= w.factor && long >= w.factor,
    };
  }

  #snapshot(a: Assessment, burnRates: BurnRate[]): BudgetSnapshot {
    const b = this.budget;
    return Object.freeze({
      name: b.name,
      kind: b.kind,
      signal: b.signal,
      group: b.group,
      description: b.description,
      state: this.#state,
      since: this.#since,
      value: a.value,
      target: b.target,
      unit: this.unit,
      objective: this.objective,
      samples: a.samples,
      lastSampleAt: this.#lastSampleAt,
      errorBudgetUsed: a.errorBudgetUsed,
      burnRates: Object.freeze(burnRates),
    });
  }
}

export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

import type { BudgetState } from '../budgets/budget.js';
import type { HealthReport } from '../health/report.js';

const STATES: readonly BudgetState[] = ['ok', 'at_risk', 'breached', 'no_data'];

/** An hour of points, and never more than this many, whatever the interval. */
export const HISTORY_POINTS = 360;
const HOUR = 3_600_000;

/** The dashboard's sparklines: one point per evaluation, oldest first; `null` where there was no value. */
export interface HealthHistoryJson {
  /** Epoch ms of each point. */
  readonly at: readonly number[];
  readonly score: readonly number[];
  readonly budgets: Readonly<
    Record<string, { readonly value: readonly (number | null)[]; readonly state: readonly BudgetState[] }>
  >;
}

/**
 * The last hour of evaluations in fixed memory: preallocated rings, one
 * point per interval (at most `HISTORY_POINTS`), written once per
 * evaluation, never on the request path.
 */
export class HealthHistory {
  readonly points: number;
  readonly #index: ReadonlyMap<string, number>;
  readonly #at: Float64Array;
  readonly #score: Float64Array;
  readonly #values: Float64Array[];
  readonly #states: Uint8Array[];
  #head = -1;
  #filled = 0;

  constructor(budgetNames: readonly string[], interval: number) {
    this.points = Math.max(2, Math.min(HISTORY_POINTS, Math.ceil(HOUR / interval)));
    this.#index = new Map(budgetNames.map((name, i) => [name, i]));
    this.#at = new Float64Array(this.points);
    this.#score = new Float64Array(this.points);
    this.#values = budgetNames.map(() => new Float64Array(this.points));
    this.#states = budgetNames.map(() => new Uint8Array(this.points));
  }

  /** Records one evaluation; a second one at the same instant (a manual `evaluate()`) replaces the first. */
  push(report: HealthReport): void {
    if (this.#filled === 0 || this.#at[this.#head] !== report.evaluatedAt) {
      this.#head = (this.#head + 1) % this.points;
      this.#filled = Math.min(this.#filled + 1, this.points);
    }
    const h = this.#head;
    this.#at[h] = report.evaluatedAt;
    this.#score[h] = report.score;
    for (const b of report.budgets) {
      const i = this.#index.get(b.name);
      if (i === undefined) continue;
      this.#values[i]![h] = b.value ?? Number.NaN;
      this.#states[i]![h] = STATES.indexOf(b.state);
    }
  }

  json(): HealthHistoryJson {
    const order: number[] = [];
    for (let k = this.#filled - 1; k >= 0; k--) order.push((this.#head - k + this.points) % this.points);
    const budgets: Record<string, { value: (number | null)[]; state: BudgetState[] }> = {};
    for (const [name, i] of this.#index) {
      const values = this.#values[i]!;
      const states = this.#states[i]!;
      budgets[name] = {
        value: order.map((p) => (Number.isNaN(values[p]!) ? null : Math.round(values[p]! * 1000) / 1000)),
        state: order.map((p) => STATES[states[p]!]!),
      };
    }
    return { at: order.map((p) => this.#at[p]!), score: order.map((p) => this.#score[p]!), budgets };
  }
}

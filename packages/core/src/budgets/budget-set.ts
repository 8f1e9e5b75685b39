import { checkKnownKeys, invalidOptionOf, KeelError, KeelErrorCode } from '../errors.js';
import type { Group } from '../signals/signal.js';
import type { SignalSet } from '../signals/signal-set.js';
import type { Slot } from '../signals/window.js';
import { type BudgetChangeEvent, type BudgetSnapshot, BudgetTracker } from './budget.js';
import type { BudgetsConfig } from './budget-options.js';
import { formatBudgetReport } from './budget-report.js';

export interface AssertBudgetsOptions {
  /** Judge only these budgets. @default all */
  budgets?: string[];
  /** Fail when a judged budget has no data. @default false */
  requireData?: boolean;
}

/** Ready and elapsed time of one interval, ms: what the availability budgets judge besides requests. */
export interface ReadyTime {
  readonly readyMs: number;
  readonly elapsedMs: number;
}

const ASSERT_KEYS: ReadonlySet<string> = new Set(['budgets', 'requireData']);

/**
 * Every budget of an instance over its signals: closed intervals go in
 * (`rotate`), each evaluation judges them (`evaluate`), and tests judge the
 * interval in progress too (`assert`).
 */
export class BudgetSet {
  readonly #trackers: BudgetTracker[] = [];
  readonly #signals: SignalSet;
  /** Per signal, the trackers that read it, with their index: found once, used at every rotation. */
  readonly #readers = new Map<string, (readonly [BudgetTracker, number])[]>();

  constructor(config: BudgetsConfig, signals: SignalSet, now: number) {
    this.#signals = signals;
    for (const budget of config.budgets) {
      const signal = signals.get(budget.signal);
      this.#trackers.push(new BudgetTracker(budget, signal.definition, config, now));
    }
    for (const [name] of signals.entries()) {
      const related = this.#trackers.map((t, i) => [t, i] as const).filter(([t]) => t.budget.signal === name);
      if (related.length > 0) this.#readers.set(name, related);
    }
  }

  /**
   * Closes the current interval of every signal, which ended at `end`, and
   * adds what each budget counts as good and total in it, with the
   * interval's ready time, to the budget's history.
   */
  rotate(time: ReadyTime, end: number): void {
    const totals = this.#trackers.map(() => ({
      good: 0,
      total: 0,
      readyMs: time.readyMs,
      elapsedMs: time.elapsedMs,
    }));
    for (const [name, signal] of this.#signals.entries()) {
      const related = this.#readers.get(name);
      signal.rotate(
        related === undefined
          ? undefined
          : (group: Group, slot: Slot) => {
              for (const [tracker, i] of related) {
                if (tracker.budget.group !== undefined && tracker.budget.group !== group.key) continue;
                totals[i]!.good +=
                  tracker.budget.kind === 'latency'
                    ? slot.countAtOrBelow(tracker.boundary)
                    : slot.count - slot.bad;
                totals[i]!.total += slot.count;
              }
            },
      );
    }
    for (const [i, tracker] of this.#trackers.entries()) tracker.push(totals[i]!, end);
  }

  /** Judges every budget over its window of closed intervals; `changed` hears each state change. */
  evaluate(now: number, changed: (event: BudgetChangeEvent) => void): BudgetSnapshot[] {
    return this.#trackers.map((tracker) => {
      const signal = this.#signals.get(tracker.budget.signal);
      const summary = signal.summarize(
        this.#signals.summaryOf(signal),
        tracker.budget.windowIntervals,
        tracker.budget.group,
      );
      const history = tracker.history(tracker.budget.windowIntervals);
      const { snapshot, changedFrom } = tracker.evaluate(
        tracker.assess(summary, history.readyMs, history.elapsedMs),
        now,
      );
      if (changedFrom !== null) {
        changed({ budget: snapshot.name, from: changedFrom, to: snapshot.state, snapshot, at: now });
      }
      return snapshot;
    });
  }

  /**
   * For tests and load tests: judges budgets over their window including the
   * interval in progress (`current`: its ready time so far), without
   * hysteresis, and throws a `KEEL_BUDGET_BREACHED` error with a readable
   * report if one is breached.
   */
  assert(options: AssertBudgetsOptions, now: number, current: ReadyTime): readonly BudgetSnapshot[] {
    const results = this.judge(options, now, current);
    const failed = results.filter(
      (r) => r.state === 'breached' || (options.requireData && r.state === 'no_data'),
    );
    if (failed.length) throw new KeelError(KeelErrorCode.BudgetBreached, formatBudgetReport(results, failed));
    return results;
  }

  /** The judgement `assert` makes, returned whatever the states (a load test reports breaches itself). */
  judge(options: AssertBudgetsOptions, now: number, current: ReadyTime): BudgetSnapshot[] {
    if (typeof options !== 'object' || options === null) {
      throw invalidOptionOf('assertBudgets', 'options', 'must be an object', options);
    }
    checkKnownKeys(options, ASSERT_KEYS, (key, rule, got) =>
      invalidOptionOf('assertBudgets', key, rule, got),
    );
    const selected = this.#trackers.filter(
      (t) => !options.budgets || options.budgets.includes(t.budget.name),
    );
    if (options.budgets) {
      const unknown = options.budgets.filter((name) => !this.#trackers.some((t) => t.budget.name === name));
      if (unknown.length)
        throw new KeelError(
          KeelErrorCode.InvalidOption,
          `assertBudgets: unknown budget(s) ${unknown.join(', ')}.`,
        );
    }
    return selected.map((t) => {
      const signal = this.#signals.get(t.budget.signal);
      const summary = signal.summarize(
        this.#signals.summaryOf(signal),
        t.budget.windowIntervals - 1,
        t.budget.group,
        true,
      );
      const history = t.history(t.budget.windowIntervals - 1);
      const a = t.assess(summary, history.readyMs + current.readyMs, history.elapsedMs + current.elapsedMs);
      return {
        ...t.last,
        state: a.candidate,
        value: a.value,
        samples: a.samples,
        errorBudgetUsed: a.errorBudgetUsed,
        since: now,
      };
    });
  }
}

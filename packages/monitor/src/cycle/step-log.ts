import type { Measurement } from '../measure.js';
import type { MonitorStep, StepKind } from './cycle-state.js';

/**
 * The cycle's record: every step, numbered, the newest `keep` in memory,
 * each handed to `persist` (the journal) and, once that settled, to
 * `publish` (the `step` event): a listener only hears of recorded steps.
 */
export class StepLog {
  readonly #steps: MonitorStep[] = [];
  readonly #keep: number;
  readonly #now: () => number;
  readonly #persist: (step: MonitorStep) => Promise<unknown>;
  readonly #publish: (step: MonitorStep) => void;
  readonly #pending = new Set<Promise<unknown>>();
  #seq = 0;

  constructor(
    keep: number,
    now: () => number,
    persist: (step: MonitorStep) => Promise<unknown>,
    publish: (step: MonitorStep) => void,
  ) {
    this.#keep = keep;
    this.#now = now;
    this.#persist = persist;
    this.#publish = publish;
  }

  /** Oldest first. */
  list(): readonly MonitorStep[] {
    return this.#steps.slice();
  }

  recent(n: number): readonly MonitorStep[] {
    return this.#steps.slice(-n);
  }

  record(
    cycle: string,
    kind: StepKind,
    mitigation: string | null,
    detail: string,
    before: Measurement | null,
    after: Measurement | null,
  ): MonitorStep {
    const step: MonitorStep = {
      seq: ++this.#seq,
      cycle,
      at: this.#now(),
      kind,
      mitigation,
      detail,
      before,
      after,
    };
    this.#push(step);
    const published = this.#persist(step)
      .then(() => this.#publish(step))
      .finally(() => this.#pending.delete(published));
    this.#pending.add(published);
    return step;
  }

  /** Resolves once every step recorded so far was published. */
  async settled(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
  }

  /** Takes back a step a previous run recorded (journal reload): kept, not written again. */
  restore(step: MonitorStep): void {
    this.#push(step);
    this.#seq = Math.max(this.#seq, step.seq ?? 0);
  }

  #push(step: MonitorStep): void {
    this.#steps.push(step);
    if (this.#steps.length > this.#keep) this.#steps.shift();
  }
}

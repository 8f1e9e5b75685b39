import type { Clock } from '../clock.js';
import { type ErrorReporter, KeelError, KeelErrorCode } from '../errors.js';
import {
  DependencyCheck,
  type DependencyCheckOptions,
  type DependencyStatus,
  resolveCheckOptions,
} from './checks.js';

/** The dependency checks of one instance, by name; readiness and the score read their last results. */
export class DependencyChecks {
  readonly #checks = new Map<string, DependencyCheck>();
  readonly #clock: Clock;
  readonly #errors: ErrorReporter;

  constructor(clock: Clock, errors: ErrorReporter) {
    this.#clock = clock;
    this.#errors = errors;
  }

  /** Validates and registers a check, started at once unless `start` is false. Returns its remover. */
  add(options: DependencyCheckOptions, start: boolean): () => void {
    const resolved = resolveCheckOptions(options);
    if (this.#checks.has(resolved.name)) {
      throw new KeelError(
        KeelErrorCode.InvalidOption,
        `addCheck: a check named "${resolved.name}" is already registered.`,
      );
    }
    const check = new DependencyCheck(resolved, this.#clock, this.#errors);
    this.#checks.set(check.name, check);
    if (start) check.start();
    return () => {
      check.stop();
      if (this.#checks.get(check.name) === check) this.#checks.delete(check.name);
    };
  }

  /** Runs every check now and waits for the results. */
  async runAll(): Promise<void> {
    await Promise.all([...this.#checks.values()].map((c) => c.run()));
  }

  stopAll(): void {
    for (const check of this.#checks.values()) check.stop();
  }

  /** The last result of each check, frozen. */
  statuses(): readonly DependencyStatus[] {
    return Object.freeze([...this.#checks.values()].map((c) => c.status));
  }

  values(): IterableIterator<DependencyCheck> {
    return this.#checks.values();
  }
}

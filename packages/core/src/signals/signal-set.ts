import { KeelError, KeelErrorCode } from '../errors.js';
import { Signal, type SignalDefinition } from './signal.js';
import type { WindowSummary } from './window.js';

/**
 * The signals of one instance, by name, each with a summary kept for
 * reading its windows: evaluations run once per interval and clear it
 * instead of allocating bucket arrays every time.
 */
export class SignalSet {
  readonly #byName = new Map<string, Signal>();
  readonly #summaries = new Map<Signal, WindowSummary>();

  constructor(definitions: readonly SignalDefinition[], windowIntervals: number) {
    for (const definition of definitions) {
      const signal = new Signal(definition, windowIntervals);
      this.#byName.set(definition.name, signal);
      this.#summaries.set(signal, signal.newSummary());
    }
  }

  /** The signal named `name`; throws `KEEL_INVALID_OPTION` when there is none. */
  get(name: string): Signal {
    const signal = this.#byName.get(name);
    if (!signal) {
      throw new KeelError(
        KeelErrorCode.InvalidOption,
        `keel.signal: no signal named "${name}"; define it in createKeel({ signals: { "${name}": {...} } }).`,
      );
    }
    return signal;
  }

  /** A fresh array of every signal, in definition order. */
  list(): Signal[] {
    return [...this.#byName.values()];
  }

  entries(): IterableIterator<[string, Signal]> {
    return this.#byName.entries();
  }

  /** The summary kept for `signal`: cleared and refilled by each `summarize` into it. */
  summaryOf(signal: Signal): WindowSummary {
    return this.#summaries.get(signal)!;
  }
}

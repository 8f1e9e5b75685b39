import { type ErrorReporter, KeelErrorCode } from './errors.js';

type Listener<T> = (event: T) => void;

/**
 * A small typed emitter. Unlike Node's EventEmitter it has no special
 * `error` event and a throwing listener is reported, never rethrown: a bad
 * subscriber must not break evaluation or the request that triggered it.
 */
export class Emitter<Events extends object> {
  readonly #listeners = new Map<keyof Events, Set<Listener<never>>>();
  readonly #errors: ErrorReporter;

  constructor(errors: ErrorReporter) {
    this.#errors = errors;
  }

  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    let set = this.#listeners.get(event);
    if (!set) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(listener as Listener<never>);
    return () => {
      set.delete(listener as Listener<never>);
    };
  }

  hasListeners(event: keyof Events): boolean {
    return (this.#listeners.get(event)?.size ?? 0) > 0;
  }

  emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    const set = this.#listeners.get(event);
    if (!set) return;
    for (const listener of set) {
      try {
        (listener as Listener<Events[K]>)(payload);
      } catch (error) {
        this.#errors.report(`listener:${String(event)}`, error, KeelErrorCode.CallbackFailed);
      }
    }
  }
}

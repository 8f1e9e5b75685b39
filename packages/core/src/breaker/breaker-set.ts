import type { Clock } from '../clock.js';
import { NamedSet } from '../named-set.js';
import type { CircuitBreakerOptions } from './breaker-options.js';
import { CircuitBreaker, type CircuitStats } from './circuit-breaker.js';

/** The circuit breakers one instance made (`keel.breaker()`), by their unique name. */
export class BreakerSet {
  readonly #breakers = new NamedSet<CircuitBreaker>('keel.breaker', 'name');
  readonly #clock: Clock;
  readonly #slowCallMs: number;

  /**
   * Every breaker runs on the instance's `clock`; a call slower than the
   * request deadline counts as slow unless its own `slowCallMs` says otherwise.
   */
  constructor(clock: Clock, requestDeadline: number | undefined) {
    this.#clock = clock;
    this.#slowCallMs = requestDeadline ?? 1000;
  }

  /** A new breaker; a name already in use on this instance is refused (`KEEL_INVALID_OPTION`). */
  create(options: CircuitBreakerOptions): CircuitBreaker {
    this.#breakers.checkFree(options?.name);
    return this.#breakers.add(new CircuitBreaker(this.#clock, options, this.#slowCallMs));
  }

  /** A fresh array, oldest first. */
  list(): CircuitBreaker[] {
    return this.#breakers.list();
  }

  stats(): CircuitStats[] {
    return this.list().map((b) => b.stats());
  }
}

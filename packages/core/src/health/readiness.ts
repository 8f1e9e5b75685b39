import type { ReadyTime } from '../budgets/budget-set.js';
import type { DependencyChecks } from './dependency-checks.js';
import type { HealthConfig } from './health-options.js';
import type { Readiness } from './report.js';

/**
 * Whether this instance should get traffic (`/readyz`), and for how long it
 * was ready: the availability budget counts time not ready as downtime.
 *
 * Not ready while starting (with `health.manualStartup`), shutting down or
 * closed, while a hold is on, while a critical dependency fails, or with the
 * score below `health.readinessMinScore`. Time after `beginShutdown` is not
 * accounted at all: readiness turns 503 so traffic drains, but a planned
 * shutdown is not an outage.
 */
export class ReadinessGate {
  readonly #config: Pick<HealthConfig, 'manualStartup' | 'readinessMinScore'>;
  readonly #checks: DependencyChecks;
  readonly #holds = new Set<{ reason: string }>();
  #started: boolean;
  #shuttingDown = false;
  #closed = false;
  #lastTick: number;
  #readyMs = 0;
  #elapsedMs = 0;

  constructor(
    config: Pick<HealthConfig, 'manualStartup' | 'readinessMinScore'>,
    checks: DependencyChecks,
    now: number,
  ) {
    this.#config = config;
    this.#checks = checks;
    this.#started = !config.manualStartup;
    this.#lastTick = now;
  }

  /**
   * Readiness as it is now, given the latest health score. Without `details`
   * a failing dependency is named but its error (which may hold an address,
   * `ECONNREFUSED 10.0.0.5:5432`) is not.
   */
  at(score: number, details = true): Readiness {
    const reasons: string[] = [];
    this.#collect(score, details, reasons);
    return { ready: reasons.length === 0, reasons };
  }

  /**
   * Readiness for the availability budget: `true`, `false`, or `null` (unknown)
   * while the only thing missing is the first answer of a critical check. Unknown
   * is not downtime: a start-up whose first check is slower than the first tick
   * (a busy machine) is not an outage. A check that answers "failing" counts from
   * then on, and its timeout bounds how long a first answer can stay unknown.
   */
  accountable(score: number): boolean | null {
    const state = this.#collect(score, false, null);
    return state === 'unknown' ? null : state === 'ready';
  }

  /**
   * Pushes why not ready onto `reasons` (when given), and says which: `ready`,
   * `unknown` (only critical checks that have not answered yet) or `not-ready`.
   */
  #collect(score: number, details: boolean, reasons: string[] | null): 'ready' | 'unknown' | 'not-ready' {
    let down = false;
    let unknown = false;
    const add = (reason: string) => {
      down = true;
      reasons?.push(reason);
    };
    if (this.#closed) add('closed');
    else if (this.#shuttingDown) add('shutting down');
    else if (!this.#started) add('starting');
    for (const hold of this.#holds) add(hold.reason);
    for (const check of this.#checks.values()) {
      const s = check.status;
      if (!s.critical || s.ok) continue;
      if (s.checkedAt === null) unknown = true;
      else down = true;
      reasons?.push(`dependency ${s.name}: ${(details && s.error) || 'failing'}`);
    }
    const floor = this.#config.readinessMinScore;
    if (floor > 0 && score < floor) add(`health score ${score} below ${floor}`);
    return down ? 'not-ready' : unknown ? 'unknown' : 'ready';
  }

  markStarted(): void {
    this.#started = true;
  }

  /** Not ready, with `reason`, until the returned function is called. */
  hold(reason: string): () => void {
    const hold = { reason: String(reason) };
    this.#holds.add(hold);
    return () => {
      this.#holds.delete(hold);
    };
  }

  /**
   * Turns readiness off for good; `true` the first time only. The time up to
   * `now` is accounted as it was (`wasReady`); from then on none is.
   */
  beginShutdown(now: number, wasReady: boolean | null): boolean {
    if (this.#shuttingDown) return false;
    this.account(now, wasReady);
    this.#shuttingDown = true;
    return true;
  }

  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  markClosed(): void {
    this.#closed = true;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Adds the time since the last call to the interval's elapsed time, and to
   * its ready time if `ready`. After `beginShutdown` it adds nothing: not
   * ready on purpose is not downtime; with `ready` null (unknown, see
   * `accountable`) it adds nothing either.
   */
  account(now: number, ready: boolean | null): void {
    const elapsed = Math.max(0, now - this.#lastTick);
    this.#lastTick = now;
    if (this.#shuttingDown || this.#closed || ready === null) return;
    this.#elapsedMs += elapsed;
    if (ready) this.#readyMs += elapsed;
  }

  /** Time the process was gone (a restart's gap, from the heartbeat): elapsed, not ready. */
  addDowntime(ms: number): void {
    this.#elapsedMs += ms;
  }

  /** Ready and elapsed time of the interval in progress. */
  current(): ReadyTime {
    return { readyMs: this.#readyMs, elapsedMs: this.#elapsedMs };
  }

  /** Ends the interval: returns its ready time and starts the next at zero. */
  closeInterval(): ReadyTime {
    const time = this.current();
    this.#readyMs = 0;
    this.#elapsedMs = 0;
    return time;
  }
}

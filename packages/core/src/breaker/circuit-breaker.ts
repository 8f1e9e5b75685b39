import type { Clock } from '../clock.js';
import { KeelError, KeelErrorCode } from '../errors.js';
import {
  type CircuitBreakerConfig,
  type CircuitBreakerOptions,
  resolveBreakerOptions,
} from './breaker-options.js';

export type CircuitState = 'closed' | 'open' | 'half_open';

export interface CircuitStats {
  readonly name: string;
  readonly state: CircuitState;
  /** Why it is open (`tripped: 6 of 10 calls failed`, `forced: <reason>`); empty when closed. */
  readonly reason: string;
  /** Held open by `forceOpen` (the monitor, or the app) until `release()`. */
  readonly forced: boolean;
  /** Calls, failures and slow calls in the rolling window (rejected calls are not calls). */
  readonly calls: number;
  readonly failures: number;
  readonly slowCalls: number;
  readonly failureRatio: number | null;
  readonly slowCallRatio: number | null;
  /** Mean duration of the calls in the window, ms; `null` without calls. */
  readonly meanMs: number | null;
  /** Calls turned away (or sent to the fallback) while open, since start. */
  readonly rejected: number;
  /** Times the circuit opened, since start. */
  readonly opened: number;
  readonly since: number;
}

/** How many sub-buckets the rolling window is cut into: counts age out a sixth at a time. */
const BUCKETS = 6;

/**
 * A circuit breaker for one dependency.
 *
 * ```
 *  closed ──(failure ratio >= failureRatio over window)──▶ open
 *    ▲                                                       │ openFor elapses
 *    │ `probes` successes in a row                           ▼
 *    └──────────────────────────────────────────────── half_open ──(a probe fails)──▶ open
 * ```
 *
 * While open, calls go to the fallback (or reject with `KEEL_CIRCUIT_OPEN`)
 * without touching the dependency; half-open lets one call at a time through
 * as a probe. `forceOpen` holds it open whatever the counts say — the monitor's
 * "open a circuit" mitigation — and probes still run on schedule so the stats
 * keep telling whether the dependency came back; `release` hands control back
 * to the counts, starting half-open.
 */
export class CircuitBreaker {
  readonly config: CircuitBreakerConfig;
  readonly #clock: Clock;
  readonly #calls = new Float64Array(BUCKETS);
  readonly #failures = new Float64Array(BUCKETS);
  readonly #slow = new Float64Array(BUCKETS);
  readonly #durations = new Float64Array(BUCKETS);
  #bucketStart: number;
  #bucket = 0;
  #state: CircuitState = 'closed';
  #since: number;
  #reason = '';
  #forced: string | undefined;
  #openUntil = 0;
  #probing = false;
  #probeSuccesses = 0;
  #failuresInARow = 0;
  #rejected = 0;
  #opened = 0;
  readonly #listeners = new Set<(state: CircuitState, reason: string) => void>();

  constructor(clock: Clock, options: CircuitBreakerOptions, defaultSlowCallMs = 1000) {
    this.config = resolveBreakerOptions(options, defaultSlowCallMs);
    this.#clock = clock;
    this.#bucketStart = clock.now();
    this.#since = this.#bucketStart;
  }

  get name(): string {
    return this.config.name;
  }

  /** The state now; an open circuit whose `openFor` ran out reads as half-open. */
  get state(): CircuitState {
    if (this.#state === 'open' && this.#clock.now() >= this.#openUntil) return 'half_open';
    return this.#state;
  }

  /**
   * Runs `fn` through the breaker. While open (or while a probe is already
   * out in half-open) the call does not reach `fn`: it gets `fallback(error)`,
   * or rejects with a `KeelError` `KEEL_CIRCUIT_OPEN`.
   */
  async run<T>(fn: () => Promise<T> | T, fallback?: (error: KeelError) => Promise<T> | T): Promise<T> {
    const permit = this.#admit();
    if (permit === null) {
      this.#rejected++;
      const error = new KeelError(
        KeelErrorCode.CircuitOpen,
        `circuit "${this.config.name}" is open${this.#reason ? ` (${this.#reason})` : ''}`,
      );
      if (fallback) return fallback(error);
      throw error;
    }
    const start = this.#clock.now();
    try {
      const value = await fn();
      this.#settle(permit, this.#clock.now() - start, true);
      return value;
    } catch (error) {
      this.#settle(permit, this.#clock.now() - start, false);
      throw error;
    }
  }

  /**
   * Records a call made outside `run` (a client with its own retries, a
   * callback API). Check `allows()` before calling the dependency.
   */
  record(durationMs: number, ok: boolean): void {
    if (this.state === 'closed') {
      this.#settle('closed', durationMs, ok);
      return;
    }
    // A call made while open or half-open is the dependency answering: treat it as a probe.
    if (this.#state === 'open') this.#transition('half_open', 'probing');
    this.#probing = true;
    this.#settle('probe', durationMs, ok);
  }

  /** Whether a call may go to the dependency now: closed, or half-open with no probe out. */
  allows(): boolean {
    const state = this.state;
    return state === 'closed' || (state === 'half_open' && !this.#probing);
  }

  /** Holds the circuit open until `release()`, whatever the counts say. */
  forceOpen(reason: string): void {
    this.#forced = reason;
    this.#open(`forced: ${reason}`);
  }

  /** Ends a `forceOpen`: the next call is a probe, and the circuit closes once probes succeed. */
  release(): void {
    if (this.#forced === undefined) return;
    this.#forced = undefined;
    this.#openUntil = this.#clock.now();
    this.#reason = 'released, probing';
  }

  /** Called with each state change; returns an unsubscribe function. */
  onChange(listener: (state: CircuitState, reason: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  stats(): CircuitStats {
    this.#roll();
    let calls = 0;
    let failures = 0;
    let slow = 0;
    let duration = 0;
    for (let i = 0; i < BUCKETS; i++) {
      calls += this.#calls[i]!;
      failures += this.#failures[i]!;
      slow += this.#slow[i]!;
      duration += this.#durations[i]!;
    }
    return Object.freeze({
      name: this.config.name,
      state: this.state,
      reason: this.#reason,
      forced: this.#forced !== undefined,
      calls,
      failures,
      slowCalls: slow,
      failureRatio: calls === 0 ? null : failures / calls,
      slowCallRatio: calls === 0 ? null : slow / calls,
      meanMs: calls === 0 ? null : duration / calls,
      rejected: this.#rejected,
      opened: this.#opened,
      since: this.#since,
    });
  }

  #admit(): 'closed' | 'probe' | null {
    const state = this.state;
    if (state === 'closed') return 'closed';
    if (state === 'open' || this.#probing) return null;
    // half-open: exactly one probe out at a time.
    if (this.#state === 'open')
      this.#transition('half_open', this.#forced ? `forced: ${this.#forced}` : 'probing');
    this.#probing = true;
    return 'probe';
  }

  #settle(permit: 'closed' | 'probe', durationMs: number, ok: boolean): void {
    this.#roll();
    const slow = durationMs > this.config.slowCallMs;
    const failed = !ok || (slow && this.config.tripOnSlowCalls);
    const b = this.#bucket;
    this.#calls[b]!++;
    this.#durations[b]! += durationMs;
    if (slow) this.#slow[b]!++;
    if (failed) this.#failures[b]!++;
    if (permit === 'probe') {
      this.#probing = false;
      if (failed) {
        this.#probeSuccesses = 0;
        this.#open(this.#forced ? `forced: ${this.#forced}` : 'probe failed');
      } else if (this.#forced !== undefined) {
        // The dependency answered, but the hold stands until release(); probe again after openFor.
        this.#open(`forced: ${this.#forced} (last probe ok)`);
      } else if (++this.#probeSuccesses >= this.config.probes) {
        this.#probeSuccesses = 0;
        this.#clearCounts();
        this.#transition('closed', '');
      }
      return;
    }
    if (this.#state !== 'closed') return;
    if (!failed) {
      this.#failuresInARow = 0;
      return;
    }
    const inARow = ++this.#failuresInARow;
    const limit = this.config.consecutiveFailures;
    if (limit !== undefined && inARow >= limit) {
      this.#open(`tripped: ${inARow} calls failed in a row`);
      return;
    }
    let calls = 0;
    let failures = 0;
    for (let i = 0; i < BUCKETS; i++) {
      calls += this.#calls[i]!;
      failures += this.#failures[i]!;
    }
    if (calls >= this.config.minimumCalls && failures / calls >= this.config.failureRatio) {
      this.#open(`tripped: ${failures} of ${calls} calls failed`);
    }
  }

  #open(reason: string): void {
    this.#failuresInARow = 0;
    this.#openUntil = this.#clock.now() + this.config.openFor;
    if (this.#state !== 'open') this.#opened++;
    this.#transition('open', reason);
  }

  #transition(state: CircuitState, reason: string): void {
    const changed = state !== this.#state;
    this.#state = state;
    this.#reason = reason;
    if (!changed) return;
    this.#since = this.#clock.now();
    for (const listener of this.#listeners) {
      try {
        listener(state, reason);
      } catch {
        // A listener must not break the call that changed the state.
      }
    }
  }

  #clearCounts(): void {
    this.#calls.fill(0);
    this.#failures.fill(0);
    this.#slow.fill(0);
    this.#durations.fill(0);
  }

  /** Ages out whole sub-buckets; reads the clock only when a call settles or stats are read. */
  #roll(): void {
    const width = this.config.window / BUCKETS;
    const now = this.#clock.now();
    const steps = Math.floor((now - this.#bucketStart) / width);
    if (steps <= 0) return;
    for (let i = 0; i < Math.min(steps, BUCKETS); i++) {
      this.#bucket = (this.#bucket + 1) % BUCKETS;
      this.#calls[this.#bucket] = 0;
      this.#failures[this.#bucket] = 0;
      this.#slow[this.#bucket] = 0;
      this.#durations[this.#bucket] = 0;
    }
    this.#bucketStart += steps * width;
  }
}

import type { Clock, TimerHandle } from '../clock.js';
import type { ErrorReporter } from '../errors.js';

/** What happens on the background tick, in this order. */
export interface TickHandlers {
  /** Every tick: at least once per sample interval and at the end of each interval. */
  every(now: number): void;
  /** Once per `sampleInterval`, when runtime sampling is on. */
  sample(now: number): void;
  /** Once per interval that closed since the last tick (at most the history's length), with its end time. */
  rotate(end: number): void;
  /** After the rotations of a tick that closed intervals. */
  closed(now: number): void;
}

export interface TickerTiming {
  /** Interval length, ms. */
  readonly interval: number;
  /** More rotations than this in one tick change nothing: older intervals are gone anyway. */
  readonly historyIntervals: number;
  /** Runtime sampling period, ms, or `undefined` when off. */
  readonly sampleInterval: number | undefined;
}

/**
 * An instance's background work, off the request path: one timer that fires
 * at the end of each window interval (and in between for runtime samples),
 * catches up after a pause, and keeps going whatever a handler throws.
 */
export class IntervalTicker {
  readonly #clock: Clock;
  readonly #timing: TickerTiming;
  readonly #handlers: TickHandlers;
  readonly #errors: ErrorReporter;
  #timer: TimerHandle | undefined;
  #slotEnd: number;
  #lastSample = Number.NEGATIVE_INFINITY;
  #stopped = false;

  constructor(
    clock: Clock,
    timing: TickerTiming,
    handlers: TickHandlers,
    errors: ErrorReporter,
    now: number,
  ) {
    this.#clock = clock;
    this.#timing = timing;
    this.#handlers = handlers;
    this.#errors = errors;
    this.#slotEnd = now + timing.interval;
  }

  start(): void {
    this.#schedule();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(): void {
    if (this.#stopped) return;
    const now = this.#clock.now();
    let delay = this.#slotEnd - now;
    const { sampleInterval } = this.#timing;
    if (sampleInterval !== undefined) delay = Math.min(delay, sampleInterval);
    this.#timer = this.#clock.setTimeout(() => this.#tick(), Math.max(1, delay));
  }

  #tick(): void {
    this.#timer = undefined;
    try {
      const now = this.#clock.now();
      this.#handlers.every(now);
      const { sampleInterval } = this.#timing;
      if (sampleInterval !== undefined && now - this.#lastSample >= sampleInterval) {
        this.#handlers.sample(now);
        this.#lastSample = now;
      }
      if (now >= this.#slotEnd) this.#catchUp(now);
    } catch (error) {
      this.#errors.report('tick', error);
    }
    this.#schedule();
  }

  #catchUp(now: number): void {
    const { interval, historyIntervals } = this.#timing;
    const due = Math.floor((now - this.#slotEnd) / interval) + 1;
    // After a long pause (a suspended laptop, a fake clock jump) older intervals are empty anyway.
    const rotations = Math.min(due, historyIntervals + 1);
    for (let i = 0; i < rotations; i++) this.#handlers.rotate(this.#slotEnd + i * interval);
    this.#slotEnd += due * interval;
    this.#handlers.closed(now);
  }
}

import type { Clock, TimerHandle } from '@keel/core';

/** Runs `fire` every `every` ms on the Keel clock (a cycle even without a breach); `false` never. */
export class Schedule {
  readonly #clock: Clock;
  readonly #every: number | false;
  readonly #fire: () => void;
  #timer: TimerHandle | undefined;
  #next: number | null = null;
  #stopped = false;

  constructor(clock: Clock, every: number | false, fire: () => void) {
    this.#clock = clock;
    this.#every = every;
    this.#fire = fire;
  }

  /** When it fires next (epoch ms), or `null`. */
  get next(): number | null {
    return this.#next;
  }

  start(): void {
    if (this.#every === false || this.#stopped) return;
    const every = this.#every;
    this.#next = this.#clock.now() + every;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      if (!this.#stopped) this.#fire();
      this.start();
    }, every);
  }

  stop(): void {
    this.#stopped = true;
    this.#next = null;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

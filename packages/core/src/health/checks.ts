import type { Clock, TimerHandle } from '../clock.js';
import { checkKnownKeys, type ErrorReporter, invalidOptionOf, KeelError, KeelErrorCode } from '../errors.js';

export interface DependencyCheckOptions {
  /** Shown in `/readyz`, `/health` and metrics, e.g. `postgres`. */
  name: string;
  /**
   * Resolves (or returns `true`) when the dependency is usable; rejects, throws
   * or returns `false` when not. Receives a signal that aborts at the timeout.
   */
  check: (signal: AbortSignal) => unknown;
  /** @default 2000 */
  timeout?: number;
  /** How often it runs, ms. @default 10000 */
  interval?: number;
  /** A failing critical dependency turns `/readyz` to 503. @default true */
  critical?: boolean;
}

const KEYS: ReadonlySet<string> = new Set(['name', 'check', 'timeout', 'interval', 'critical']);

/** Validates `keel.addCheck`'s options and applies the defaults. */
export function resolveCheckOptions(options: DependencyCheckOptions): Required<DependencyCheckOptions> {
  if (typeof options?.name !== 'string' || !/^[\w.-]{1,64}$/.test(options.name)) {
    throw new KeelError(
      KeelErrorCode.InvalidOption,
      'addCheck: `name` must be 1-64 letters, digits, "_", "." or "-".',
    );
  }
  checkKnownKeys(options, KEYS, (key, rule, got) =>
    invalidOptionOf(`addCheck(${options.name})`, key, rule, got),
  );
  if (typeof options.check !== 'function') {
    throw new KeelError(
      KeelErrorCode.InvalidOption,
      `addCheck(${options.name}): \`check\` must be a function.`,
    );
  }
  for (const key of ['timeout', 'interval'] as const) {
    const v = options[key];
    if (v !== undefined && !(Number.isInteger(v) && v > 0)) {
      throw new KeelError(
        KeelErrorCode.InvalidOption,
        `addCheck(${options.name}): \`${key}\` must be a positive integer (ms).`,
      );
    }
  }
  return { timeout: 2000, interval: 10_000, critical: true, ...options };
}

export interface DependencyStatus {
  readonly name: string;
  readonly ok: boolean;
  readonly critical: boolean;
  /** `null` before the first run finished. */
  readonly checkedAt: number | null;
  readonly latencyMs: number | null;
  readonly error: string | null;
}

/**
 * A registered dependency check: runs on its own timer, never on a probe
 * request, so `/readyz` answers from the last result at once. Until the first
 * run settles the dependency counts as not ready.
 */
export class DependencyCheck {
  readonly name: string;
  readonly critical: boolean;
  #status: DependencyStatus;
  #timer: TimerHandle | undefined;
  #running = false;
  #stopped = false;
  readonly #options: Required<DependencyCheckOptions>;
  readonly #clock: Clock;
  readonly #errors: ErrorReporter;

  constructor(options: Required<DependencyCheckOptions>, clock: Clock, errors: ErrorReporter) {
    this.name = options.name;
    this.critical = options.critical;
    this.#options = options;
    this.#clock = clock;
    this.#errors = errors;
    this.#status = Object.freeze({
      name: this.name,
      ok: false,
      critical: this.critical,
      checkedAt: null,
      latencyMs: null,
      error: 'not checked yet',
    });
  }

  get status(): DependencyStatus {
    return this.#status;
  }

  start(): void {
    void this.run();
  }

  /** Runs the check now; concurrent calls share nothing and skip while one is running. */
  async run(): Promise<DependencyStatus> {
    if (this.#running || this.#stopped) return this.#status;
    this.#running = true;
    const started = this.#clock.now();
    const controller = new AbortController();
    let timeout: TimerHandle | undefined;
    try {
      const timedOut = new Promise<never>((_, reject) => {
        timeout = this.#clock.setTimeout(() => {
          controller.abort();
          reject(
            new KeelError(
              KeelErrorCode.CheckTimeout,
              `dependency check ${this.name} timed out after ${this.#options.timeout} ms`,
            ),
          );
        }, this.#options.timeout);
      });
      const result = await Promise.race([
        Promise.resolve().then(() => this.#options.check(controller.signal)),
        timedOut,
      ]);
      if (result === false)
        throw new KeelError(KeelErrorCode.CheckFailed, `dependency check ${this.name} returned false`);
      this.#settle(true, started, null);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.#settle(false, started, message);
    } finally {
      if (timeout !== undefined) this.#clock.clearTimeout(timeout);
      this.#running = false;
      this.#schedule();
    }
    return this.#status;
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #settle(ok: boolean, started: number, error: string | null): void {
    try {
      this.#status = Object.freeze({
        name: this.name,
        ok,
        critical: this.critical,
        checkedAt: this.#clock.now(),
        latencyMs: this.#clock.now() - started,
        error,
      });
    } catch (e) {
      this.#errors.report('dependency-check', e);
    }
  }

  #schedule(): void {
    if (this.#stopped) return;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      void this.run();
    }, this.#options.interval);
  }
}

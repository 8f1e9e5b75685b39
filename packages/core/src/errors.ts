/**
 * Every error Keel raises is a `KeelError` with a stable `code`; tests and
 * callers branch on the code, never on the message text.
 */
export const KeelErrorCode = {
  /** An option is missing, of the wrong type, or out of range. Thrown by `createKeel`. */
  InvalidOption: 'KEEL_INVALID_OPTION',
  /** `assertBudgets()` found a budget breached (or without data when data was required). */
  BudgetBreached: 'KEEL_BUDGET_BREACHED',
  /** A dependency check did not settle within its timeout. */
  CheckTimeout: 'KEEL_CHECK_TIMEOUT',
  /** A cache load did not settle within `loadTimeout`. */
  LoadTimeout: 'KEEL_LOAD_TIMEOUT',
  /** A dependency check rejected or returned `false`. */
  CheckFailed: 'KEEL_CHECK_FAILED',
  /** A user callback (listener, check, hook) threw inside Keel; reported, never rethrown. */
  CallbackFailed: 'KEEL_CALLBACK_FAILED',
  /** Keel itself failed internally; reported, never rethrown into the app. */
  Internal: 'KEEL_INTERNAL',
  /** A circuit breaker is open: the call was not made (see `keel.breaker`). */
  CircuitOpen: 'KEEL_CIRCUIT_OPEN',
  /** The instance was closed; the call had no effect. */
  Closed: 'KEEL_CLOSED',
  /** `@keel/pg`: PostgreSQL cancelled a query at the request's deadline (server-side `statement_timeout`). */
  QueryDeadline: 'KEEL_QUERY_DEADLINE',
  /** `@keel/pg`: no pooled connection became free within the wait allowed (pool saturated). */
  AcquireTimeout: 'KEEL_POOL_ACQUIRE_TIMEOUT',
  /** `@keel/pg`: the database could not be reached (refused, reset, terminated, connect timeout). */
  DatabaseUnavailable: 'KEEL_DB_UNAVAILABLE',
} as const;

export type KeelErrorCode = (typeof KeelErrorCode)[keyof typeof KeelErrorCode];

export class KeelError extends Error {
  override readonly name = 'KeelError';
  readonly code: KeelErrorCode;

  constructor(code: KeelErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export function isKeelError(value: unknown): value is KeelError {
  return value instanceof KeelError;
}

/** Builds the `KEEL_INVALID_OPTION` error: names the option and the rule it broke. */
export function invalidOption(path: string, rule: string, got: unknown): KeelError {
  return invalidOptionOf('createKeel', path, rule, got);
}

/**
 * The `KEEL_INVALID_OPTION` error of any Keel API, worded alike everywhere:
 * `<who>: option \`<path>\` <rule> (got <value>).`
 */
export function invalidOptionOf(who: string, path: string, rule: string, got: unknown): KeelError {
  return new KeelError(
    KeelErrorCode.InvalidOption,
    `${who}: option \`${path}\` ${rule} (got ${describeValue(got)}).`,
  );
}

/**
 * Rejects the first key of an options object that is not in `known`, with the
 * error `fail` builds from the key, the rule it broke and its value: every
 * Keel API lists the options it knows the same way.
 */
export function checkKnownKeys(
  options: object,
  known: ReadonlySet<string>,
  fail: (key: string, rule: string, got: unknown) => Error,
): void {
  for (const key of Object.keys(options)) {
    if (!known.has(key)) {
      throw fail(
        key,
        `is not a known option (known: ${[...known].join(', ')})`,
        (options as Record<string, unknown>)[key],
      );
    }
  }
}

/** A short, safe rendering of a bad option value for an error message. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string')
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value);
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/** Receives every failure Keel caught after setup. */
export type ErrorHandler = (error: KeelError, where: string) => void;

/**
 * After setup nothing Keel does may throw into the host app. Every caught
 * failure goes through here: counted per place, handed to the user's handler,
 * and (by default) logged once per place so a failure on a hot path cannot
 * flood the log.
 */
export class ErrorReporter {
  readonly counts = new Map<string, number>();
  readonly #handler: ErrorHandler | undefined;
  readonly #maxPlaces: number;

  constructor(handler: ErrorHandler | undefined, maxPlaces = 256) {
    this.#handler = handler;
    this.#maxPlaces = maxPlaces;
  }

  report(where: string, error: unknown, code: KeelErrorCode = KeelErrorCode.Internal): void {
    try {
      const known = this.counts.get(where);
      // `where` is always a Keel-chosen literal, but bound the map anyway.
      if (known !== undefined || this.counts.size < this.#maxPlaces) this.counts.set(where, (known ?? 0) + 1);
      const keelError =
        error instanceof KeelError
          ? error
          : new KeelError(code, `${where}: ${error instanceof Error ? error.message : String(error)}`, {
              cause: error,
            });
      if (this.#handler) {
        this.#handler(keelError, where);
      } else if (known === undefined) {
        console.warn(`[keel] ${keelError.message} (further failures at ${where} are counted, not logged)`);
      }
    } catch {
      // A throwing error handler must not turn a reported failure into a crash.
    }
  }

  total(): number {
    let sum = 0;
    for (const n of this.counts.values()) sum += n;
    return sum;
  }
}

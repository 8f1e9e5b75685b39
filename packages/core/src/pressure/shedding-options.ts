import { isPositiveInteger, isPositiveNumber, object, read } from '../option-readers.js';

/**
 * When the process is too loaded to serve more, in the runtime's terms; the
 * adapters answer 503 + Retry-After (probes and critical routes exempt).
 */
export interface SheddingOptions {
  /** Event-loop delay p99 at which shedding starts, ms. @default 1000 */
  eventLoopDelay?: number;
  /** Heap used / heap limit at which shedding starts. @default 0.98 */
  heapUsedRatio?: number;
  /** `Retry-After`, seconds. @default 5 */
  retryAfter?: number;
}

export interface SheddingConfig {
  readonly enabled: boolean;
  /** Shed while the event-loop delay p99 is at or above this, ms. */
  readonly eventLoopDelay: number;
  /** Shed while heap used / heap limit is at or above this. */
  readonly heapUsedRatio: number;
  /** `Retry-After` sent with each 503, seconds. */
  readonly retryAfterSeconds: number;
}

const KEYS: ReadonlySet<string> = new Set(['eventLoopDelay', 'heapUsedRatio', 'retryAfter']);

/** Validates `options.shedding`; `false` never sheds on pressure (a force still can). */
export function resolveSheddingOptions(value: unknown): SheddingConfig {
  if (value === false)
    return Object.freeze({
      enabled: false,
      eventLoopDelay: Infinity,
      heapUsedRatio: Infinity,
      retryAfterSeconds: 5,
    });
  const o = object('shedding', value, KEYS);
  return Object.freeze({
    enabled: true,
    eventLoopDelay: read(
      'shedding.eventLoopDelay',
      o.eventLoopDelay,
      1000,
      isPositiveNumber,
      'must be a number > 0 (ms)',
    ),
    heapUsedRatio: read(
      'shedding.heapUsedRatio',
      o.heapUsedRatio,
      0.98,
      (v) => isPositiveNumber(v) && (v as number) <= 1,
      'must be a number in (0, 1]',
    ),
    retryAfterSeconds: read(
      'shedding.retryAfter',
      o.retryAfter,
      5,
      isPositiveInteger,
      'must be an integer >= 1 (seconds)',
    ),
  });
}

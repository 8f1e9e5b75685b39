import { isPositiveInteger, object, read, roundToInterval } from '../option-readers.js';

export interface WindowOptions {
  /** Length of one interval of the rolling windows, ms. @default 10000 */
  interval?: number;
  /** Default budget window, ms; a multiple of `interval`. @default 300000 (5 min) */
  length?: number;
}

export interface WindowConfig {
  /** Length of one interval, ms: windows rotate, and the health score is evaluated, once per interval. */
  readonly interval: number;
  /** The default budget window, ms; a multiple of `interval`. */
  readonly length: number;
}

const KEYS: ReadonlySet<string> = new Set(['interval', 'length']);

/** Validates `options.window`. */
export function resolveWindowOptions(value: unknown): WindowConfig {
  const o = object('window', value, KEYS);
  const interval = read(
    'window.interval',
    o.interval,
    10_000,
    (v) => isPositiveInteger(v) && (v as number) >= 100,
    'must be an integer >= 100 (ms)',
  );
  const length = read(
    'window.length',
    o.length,
    roundToInterval(300_000, interval),
    (v) => isPositiveInteger(v) && (v as number) % interval === 0,
    `must be a positive multiple of window.interval (${interval} ms)`,
  );
  return Object.freeze({ interval, length });
}

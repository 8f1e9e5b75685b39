import { checkKnownKeys, invalidOption } from './errors.js';

// The few helpers every concept's option resolver is written with, so each
// concept validates its own options next to the code that uses them and every
// `createKeel` option fails alike: a `KEEL_INVALID_OPTION` naming its path.

export type Check = (value: unknown) => boolean;

export const isPositiveInteger: Check = (v) => Number.isInteger(v) && (v as number) > 0;
export const isNonNegativeNumber: Check = (v) => typeof v === 'number' && Number.isFinite(v) && v >= 0;
export const isPositiveNumber: Check = (v) => typeof v === 'number' && Number.isFinite(v) && v > 0;
export const isBoolean: Check = (v) => typeof v === 'boolean';
export const isString: Check = (v) => typeof v === 'string';

/** `value`, or `fallback` when it is `undefined`; throws when `valid` refuses it. */
export function read<T>(path: string, value: unknown, fallback: T, valid: Check, rule: string): T {
  if (value === undefined) return fallback;
  if (!valid(value)) throw invalidOption(path, rule, value);
  return value as T;
}

/** An options object (`{}` when left out); with `known`, a key it does not list is refused. */
export function object(path: string, value: unknown, known?: ReadonlySet<string>): Record<string, unknown> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidOption(path, 'must be an object', value);
  }
  if (known) checkKnownKeys(value, known, (key, rule, got) => invalidOption(`${path}.${key}`, rule, got));
  return value as Record<string, unknown>;
}

/** A ladder of values a health component is scored against (see `thresholdScore`). */
export interface Thresholds {
  /** At or below: component scores 10. */
  ok: number;
  /** At this value the component scores 9 (still "fine"). */
  warn: number;
  /** At this value it scores 7 (costs the "healthy" status). */
  bad: number;
  /** At this value and beyond it scores 0. */
  critical: number;
}

const THRESHOLD_KEYS: ReadonlySet<string> = new Set(['ok', 'warn', 'bad', 'critical']);

export function readThresholds(path: string, value: unknown, fallback: Thresholds): Thresholds {
  const o = object(path, value, THRESHOLD_KEYS);
  const rule = 'must be a number >= 0';
  const t: Thresholds = {
    ok: read(`${path}.ok`, o.ok, fallback.ok, isNonNegativeNumber, rule),
    warn: read(`${path}.warn`, o.warn, fallback.warn, isNonNegativeNumber, rule),
    bad: read(`${path}.bad`, o.bad, fallback.bad, isNonNegativeNumber, rule),
    critical: read(`${path}.critical`, o.critical, fallback.critical, isNonNegativeNumber, rule),
  };
  if (!(t.ok <= t.warn && t.warn <= t.bad && t.bad <= t.critical && t.ok < t.critical)) {
    throw invalidOption(path, 'must satisfy ok <= warn <= bad <= critical, with ok < critical', value);
  }
  return Object.freeze(t);
}

/** The multiple of `interval` nearest to `ms`, and at least one interval. */
export function roundToInterval(ms: number, interval: number): number {
  return Math.max(1, Math.round(ms / interval)) * interval;
}

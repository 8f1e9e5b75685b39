import { isValidLabelValue } from '../signals/labels.js';
import { VITAL_METRICS, type VitalName } from './vitals-options.js';

/** One page view's metrics, as `@keel/web-vitals` sends them. */
export interface VitalsBeacon {
  /** The page group: a route template such as `/products/:id`. */
  page: string;
  /** The page token the app rendered into the page (`keel.vitals.pageToken`), when it uses them. */
  token?: string;
  metrics: { name: VitalName; value: number; censored?: boolean }[];
}

const MAX_METRICS = 16;
const MAX_PAGE_LENGTH = 200;
const MAX_TOKEN_LENGTH = 64;
const BEACON_KEYS = new Set(['page', 'token', 'metrics']);
const METRIC_KEYS = new Set(['name', 'value', 'censored']);
const NAMES = Object.keys(VITAL_METRICS) as VitalName[];

/**
 * How much earlier a metric that comes later in a page load may be reported,
 * ms: `web-vitals` measures a page restored from the back/forward cache with
 * one timer per metric, so their order can be off by a frame or two.
 */
const ORDER_TOLERANCE_MS = 50;

/**
 * Orders that hold in every real page load: the first byte arrives before
 * the first paint, which comes no later than the largest one and than
 * Time To Interactive (which starts at First Contentful Paint).
 */
const ORDER: readonly (readonly [VitalName, VitalName])[] = [
  ['TTFB', 'FCP'],
  ['FCP', 'LCP'],
  ['FCP', 'TTI'],
];

/**
 * Checks a parsed beacon against the schema: known keys only, a page group
 * that can be a label, a token if any of at most 64 characters, at most 16
 * metrics, each a known name at most once with a finite value in its range,
 * and metrics in an order a real page load can produce (TTFB <= FCP <= LCP,
 * FCP <= TTI). Returns the error, or `null` when valid.
 */
export function checkBeacon(value: unknown): string | null {
  if (!isPlainObject(value)) return 'the body must be a JSON object';
  for (const key of Object.keys(value)) if (!BEACON_KEYS.has(key)) return `unknown field "${clip(key)}"`;
  const { page, token, metrics } = value as Record<string, unknown>;
  if (typeof page !== 'string' || page.length === 0 || page.length > MAX_PAGE_LENGTH || page[0] !== '/') {
    return `"page" must be a path of 1 to ${MAX_PAGE_LENGTH} characters starting with "/"`;
  }
  if (!isValidLabelValue(page, MAX_PAGE_LENGTH) || page.includes('?') || page.includes('#')) {
    return '"page" must hold no control characters, query or fragment';
  }
  if (token !== undefined && (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH)) {
    return `"token" must be a string of at most ${MAX_TOKEN_LENGTH} characters`;
  }
  if (!Array.isArray(metrics) || metrics.length === 0 || metrics.length > MAX_METRICS) {
    return `"metrics" must be an array of 1 to ${MAX_METRICS} entries`;
  }
  const values: Partial<Record<VitalName, number>> = {};
  for (const m of metrics) {
    if (!isPlainObject(m)) return 'each metric must be an object';
    for (const key of Object.keys(m)) if (!METRIC_KEYS.has(key)) return `unknown metric field "${clip(key)}"`;
    const { name, value: v, censored } = m as Record<string, unknown>;
    if (typeof name !== 'string' || !NAMES.includes(name as VitalName)) {
      return `unknown metric "${clip(String(name))}" (known: ${NAMES.join(', ')})`;
    }
    if (values[name as VitalName] !== undefined) return `metric ${name} appears twice`;
    const { max } = VITAL_METRICS[name as VitalName];
    if (typeof v !== 'number' || !(v >= 0 && v <= max)) return `${name} must be a number from 0 to ${max}`;
    if (censored !== undefined && (typeof censored !== 'boolean' || name !== 'TTI')) {
      return '"censored" is a boolean, and only for TTI';
    }
    values[name as VitalName] = v;
  }
  for (const [first, then] of ORDER) {
    const a = values[first];
    const b = values[then];
    if (a !== undefined && b !== undefined && a > b + ORDER_TOLERANCE_MS) {
      return `${first} (${a}) comes after ${then} (${b}): no page load does that`;
    }
  }
  return null;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function clip(s: string): string {
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

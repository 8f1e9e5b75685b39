import { checkKnownKeys, invalidOption } from '../errors.js';
import { read } from '../option-readers.js';
import { WEB_VITAL_SIGNALS } from '../signals/built-in-signals.js';

/** The metrics a browser may send, by the name `web-vitals` gives them (plus Keel's TTI). */
export type VitalName = 'TTI' | 'LCP' | 'INP' | 'CLS' | 'FCP' | 'TTFB';

export interface VitalMetric {
  /** Signal the values go into. */
  readonly signal: string;
  /** Largest value accepted; a beacon with a larger one is refused as a whole. */
  readonly max: number;
}

/**
 * Every accepted metric, its signal and its range. The ranges are generous on
 * purpose (a 10-minute load happens on a bad train connection) but finite, so
 * a forged beacon cannot park a sample at 1e300 and drag a percentile with it.
 */
export const VITAL_METRICS: Readonly<Record<VitalName, VitalMetric>> = Object.freeze({
  TTI: { signal: WEB_VITAL_SIGNALS.TTI, max: 600_000 },
  LCP: { signal: WEB_VITAL_SIGNALS.LCP, max: 600_000 },
  FCP: { signal: WEB_VITAL_SIGNALS.FCP, max: 600_000 },
  TTFB: { signal: WEB_VITAL_SIGNALS.TTFB, max: 600_000 },
  INP: { signal: WEB_VITAL_SIGNALS.INP, max: 60_000 },
  // Layout shift is unitless; real pages stay far below 10.
  CLS: { signal: WEB_VITAL_SIGNALS.CLS, max: 100 },
});

export interface VitalsOptions {
  /** Path the collector answers `POST` beacons at; the adapters mount it. @default '/keel/vitals' */
  path?: string;
  /**
   * Pages on other origins allowed to send beacons (`https://shop.example`),
   * or `'*'` for any. Same-origin beacons are always accepted. Without a list,
   * beacons from other sites are refused (judged by the browser's
   * `Sec-Fetch-Site`), same-site ones (`www.` to `api.`) are accepted.
   * @default same-site only
   */
  allowedOrigins?: readonly string[] | '*';
  /** Distinct page groups kept; beacons for further groups count in the overflow series. @default 100 */
  maxPageGroups?: number;
  /** Largest beacon body accepted, bytes (from 1024 to 65536). @default 16384 */
  maxBodyBytes?: number;
  /** Time a client may take to send its body, ms. @default 10000 */
  bodyTimeout?: number;
}

export interface VitalsConfig {
  readonly path: string;
  /** Lower-case origins, `'*'`, or `null` for same-site only. */
  readonly allowedOrigins: ReadonlySet<string> | '*' | null;
  readonly maxPageGroups: number;
  readonly maxBodyBytes: number;
  readonly bodyTimeout: number;
}

const KEYS = new Set(['path', 'allowedOrigins', 'maxPageGroups', 'maxBodyBytes', 'bodyTimeout']);
const ORIGIN = /^https?:\/\/[^/\s?#]+$/;

/** Validates `options.vitals`; `null` when the collector is switched off. */
export function resolveVitalsOptions(value: unknown): VitalsConfig | null {
  if (value === false) return null;
  if (value !== undefined && (typeof value !== 'object' || value === null || Array.isArray(value))) {
    throw invalidOption('vitals', 'must be an object or false', value);
  }
  const o = (value ?? {}) as Record<string, unknown>;
  checkKnownKeys(o, KEYS, (key, rule, got) => invalidOption(`vitals.${key}`, rule, got));
  const path = o.path ?? '/keel/vitals';
  if (typeof path !== 'string' || !/^\/[^?#\s]*$/.test(path) || (path.length > 1 && path.endsWith('/'))) {
    throw invalidOption('vitals.path', 'must be a path like "/keel/vitals" (leading slash, no query)', path);
  }
  let allowedOrigins: VitalsConfig['allowedOrigins'] = null;
  if (o.allowedOrigins === '*') allowedOrigins = '*';
  else if (o.allowedOrigins !== undefined) {
    const list = o.allowedOrigins;
    if (!Array.isArray(list) || !list.every((x) => typeof x === 'string' && ORIGIN.test(x))) {
      throw invalidOption(
        'vitals.allowedOrigins',
        'must be \'*\' or an array of origins like "https://shop.example" (scheme and host, no path or trailing slash)',
        list,
      );
    }
    allowedOrigins = new Set(list.map((x: string) => x.toLowerCase()));
  }
  return Object.freeze({
    path,
    allowedOrigins,
    maxPageGroups: integer('vitals.maxPageGroups', o.maxPageGroups, 100, 1, 10_000),
    maxBodyBytes: integer('vitals.maxBodyBytes', o.maxBodyBytes, 16_384, 1024, 65_536),
    bodyTimeout: integer('vitals.bodyTimeout', o.bodyTimeout, 10_000, 100, 120_000),
  });
}

function integer(path: string, value: unknown, fallback: number, min: number, max: number): number {
  return read(
    path,
    value,
    fallback,
    (v) => Number.isInteger(v) && (v as number) >= min && (v as number) <= max,
    `must be an integer from ${min} to ${max}`,
  );
}

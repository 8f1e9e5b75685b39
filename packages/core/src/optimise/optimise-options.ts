import {
  isNonNegativeNumber,
  isPositiveInteger,
  isPositiveNumber,
  object,
  read,
  roundToInterval,
} from '../option-readers.js';

/** Recording the app's traffic for `keel loadtest` (routes, rates, sample paths; no headers, bodies or tokens). */
export interface TrafficOptions {
  /** Concrete paths kept per route (a uniform sample of the requests seen). @default 20 */
  pathsPerRoute?: number;
  /** Routes kept; requests to further ones are counted, not sampled. @default 100 */
  maxRoutes?: number;
  /**
   * Outside a capture, at most one request is sampled per this many ms
   * (during a capture, every request is), so the cost stays bounded
   * whatever the traffic. @default 100
   */
  sampleInterval?: number;
}

/**
 * The optimisation loop: when a route is slow, find where its time goes
 * (database per query fingerprint, pool wait, cache, the rest; a CPU
 * profile), rank the bottlenecks by impact against effort, and suggest the fix.
 */
export interface OptimiseOptions {
  /** A capture starts when a route's (or the overall) p95 over `triggerWindow` is above this, ms. @default 1000 */
  triggerMs?: number;
  /** The window the trigger's p95 is judged over, ms (whole intervals). @default 60000 */
  triggerWindow?: number;
  /** How long a capture records the breakdown, ms. @default 10000 */
  captureMs?: number;
  /** Length of the CPU profile taken during a capture, ms; 0 takes none. At most `captureMs`. @default 3000 */
  profileMs?: number;
  /** The CPU profiler's sampling interval, µs. @default 1000 */
  profileSamplingUs?: number;
  /**
   * After a capture, no automatic capture starts for this long, and no CPU
   * profile is taken (an on-demand capture runs without one), ms. @default 600000 (10 min)
   */
  cooldown?: number;
  /** Routes a capture keeps, the busiest first seen; further ones are counted together. @default 50 */
  maxRoutes?: number;
  /** Query fingerprints kept per route during a capture. @default 20 */
  maxFingerprints?: number;
  /** From this many queries of one fingerprint per request on average, it is reported as an N+1. @default 5 */
  nPlusOne?: number;
  /**
   * Instances of this app sharing the database: a larger pool must fit the
   * server's `max_connections` on every one of them. @default `cost.instances`, else 1
   */
  instances?: number;
  /** Reports kept, newest first (`keel.optimiser.reports()`). @default 5 */
  keepReports?: number;
  /** Traffic recording for `keel loadtest`; `false` turns it off. @default on, see each field */
  traffic?: TrafficOptions | false;
}

export interface TrafficConfig {
  readonly pathsPerRoute: number;
  readonly maxRoutes: number;
  readonly sampleInterval: number;
}

export interface OptimiseConfig {
  readonly triggerMs: number;
  /** `triggerWindow` in intervals. */
  readonly triggerIntervals: number;
  readonly captureMs: number;
  readonly profileMs: number;
  readonly profileSamplingUs: number;
  readonly cooldown: number;
  readonly maxRoutes: number;
  readonly maxFingerprints: number;
  readonly nPlusOne: number;
  readonly instances: number;
  readonly keepReports: number;
  readonly traffic: TrafficConfig | null;
}

const KEYS: ReadonlySet<string> = new Set([
  'triggerMs',
  'triggerWindow',
  'captureMs',
  'profileMs',
  'profileSamplingUs',
  'cooldown',
  'maxRoutes',
  'maxFingerprints',
  'nPlusOne',
  'instances',
  'keepReports',
  'traffic',
]);
const TRAFFIC_KEYS: ReadonlySet<string> = new Set(['pathsPerRoute', 'maxRoutes', 'sampleInterval']);

const ms = 'must be a number > 0 (ms)';
const int = 'must be an integer >= 1';

/** Validates `options.optimise`; `false` turns the loop off (`null`: nothing is built, nothing costs). */
export function resolveOptimiseOptions(
  value: unknown,
  interval: number,
  fleetInstances = 1,
): OptimiseConfig | null {
  if (value === false) return null;
  const o = object('optimise', value, KEYS);
  const captureMs = read('optimise.captureMs', o.captureMs, 10_000, isPositiveNumber, ms);
  const profileMs = read(
    'optimise.profileMs',
    o.profileMs,
    Math.min(3000, captureMs),
    (v) => isNonNegativeNumber(v) && (v as number) <= captureMs,
    `must be a number from 0 to optimise.captureMs (${captureMs}) (ms)`,
  );
  const triggerWindow = read('optimise.triggerWindow', o.triggerWindow, 60_000, isPositiveNumber, ms);
  return Object.freeze({
    triggerMs: read('optimise.triggerMs', o.triggerMs, 1000, isPositiveNumber, ms),
    triggerIntervals: roundToInterval(triggerWindow, interval) / interval,
    captureMs,
    profileMs,
    profileSamplingUs: read(
      'optimise.profileSamplingUs',
      o.profileSamplingUs,
      1000,
      (v) => isPositiveInteger(v) && (v as number) >= 50,
      'must be an integer >= 50 (µs)',
    ),
    cooldown: read(
      'optimise.cooldown',
      o.cooldown,
      600_000,
      isNonNegativeNumber,
      'must be a number >= 0 (ms)',
    ),
    maxRoutes: read('optimise.maxRoutes', o.maxRoutes, 50, isPositiveInteger, int),
    maxFingerprints: read('optimise.maxFingerprints', o.maxFingerprints, 20, isPositiveInteger, int),
    nPlusOne: read(
      'optimise.nPlusOne',
      o.nPlusOne,
      5,
      (v) => isPositiveNumber(v) && (v as number) >= 2,
      'must be a number >= 2',
    ),
    instances: read('optimise.instances', o.instances, fleetInstances, isPositiveInteger, int),
    keepReports: read('optimise.keepReports', o.keepReports, 5, isPositiveInteger, int),
    traffic: resolveTraffic(o.traffic),
  });
}

function resolveTraffic(value: unknown): TrafficConfig | null {
  if (value === false) return null;
  const o = object('optimise.traffic', value, TRAFFIC_KEYS);
  return Object.freeze({
    pathsPerRoute: read('optimise.traffic.pathsPerRoute', o.pathsPerRoute, 20, isPositiveInteger, int),
    maxRoutes: read('optimise.traffic.maxRoutes', o.maxRoutes, 100, isPositiveInteger, int),
    sampleInterval: read(
      'optimise.traffic.sampleInterval',
      o.sampleInterval,
      100,
      isNonNegativeNumber,
      'must be a number >= 0 (ms)',
    ),
  });
}

import type { Registry } from 'prom-client';
import { type Clock, systemClock } from './clock.js';
import { CONFIG_FILE_SECTIONS } from './config/config-file-sections.js';
import { type ErrorHandler, invalidOption } from './errors.js';
import type { SheddingConfig } from './pressure/load-shedder.js';
import { isValidLabelName, isValidSignalName } from './signals/labels.js';
import type { SignalDefinition } from './signals/signal.js';
import {
  resolveVitalsOptions,
  VITAL_METRICS,
  type VitalsConfig,
  type VitalsOptions,
} from './vitals/vitals-options.js';

export type BudgetKind = 'latency' | 'error_rate' | 'availability';

export interface BudgetOptions {
  /**
   * - `latency`: `percentile` of the signal's samples must stay at or below `target` (the signal's unit).
   * - `error_rate`: the share of bad events must stay below `target`, in percent.
   * - `availability`: good events times ready time must stay above `target`, in percent.
   */
  kind: BudgetKind;
  /** Name of the signal the budget reads, e.g. `http.server.request.duration`. */
  signal: string;
  /** The threshold, see `kind`. */
  target: number;
  /** For `latency`: which percentile, 0 < p < 100. @default 95 */
  percentile?: number;
  /** Restrict the budget to one group of the signal (a route, a fingerprint, a page group). @default all groups */
  group?: string;
  /** Rolling window the state is judged over, in ms; a multiple of `window.interval`. @default window.length */
  window?: number;
  /** Shown in reports. @default derived, e.g. "p95 of http.server.request.duration <= 200 ms" */
  description?: string;
}

export type DefaultBudgetName =
  | 'availability'
  | 'api_latency'
  | 'page_load'
  | 'error_rate'
  | 'db_latency'
  | 'lcp'
  | 'inp'
  | 'cls';

/** A default budget can be tuned or switched off; any other name defines a new one. */
export type BudgetsOption = { [K in DefaultBudgetName]?: Partial<BudgetOptions> | false } & {
  [name: string]: Partial<BudgetOptions> | BudgetOptions | false | undefined;
};

export interface SignalOptions {
  /** What it measures, shown as the metric's HELP. */
  description?: string;
  /** @default 'ms' */
  unit?: SignalDefinition['unit'];
  /** Label names, in the order `record` takes their values; at most 4. @default [] */
  labels?: string[];
  /** The label whose values each get a rolling window. @default none */
  groupBy?: string;
  /** Histogram boundaries in `unit`; budget targets are added. @default latency boundaries */
  boundaries?: number[];
  /** @default signals.maxSeries */
  maxSeries?: number;
  /** @default signals.maxGroups */
  maxGroups?: number;
}

export interface BurnRateWindow {
  /** Short window, ms. */
  short: number;
  /** Long window, ms. */
  long: number;
  /** Burn rate above which both windows together raise an alert. */
  factor: number;
}

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

export interface RuntimeOptions {
  /** How often the runtime is sampled, ms. @default 1000 */
  sampleInterval?: number;
  /** Event-loop delay p99, ms. @default { ok: 20, warn: 100, bad: 500, critical: 2000 } */
  eventLoopDelay?: Partial<Thresholds>;
  /** Event-loop utilisation, 0..1. @default { ok: 0.7, warn: 0.9, bad: 0.97, critical: 1 } */
  eventLoopUtilization?: Partial<Thresholds>;
  /** Heap used / heap limit, 0..1. @default { ok: 0.7, warn: 0.85, bad: 0.95, critical: 1 } */
  heap?: Partial<Thresholds>;
}

export type EndpointName = 'livez' | 'readyz' | 'health' | 'metrics';

export interface EndpointOptions {
  /** When set, endpoints not in `public` need `Authorization: Bearer <token>`. @default none */
  token?: string;
  /** Endpoints served without the token. @default ['livez', 'readyz'] */
  public?: EndpointName[];
  /** Path prefix the handlers answer under. @default '' (so `/livez`, `/readyz`, ...) */
  prefix?: string;
  /** Serve the endpoints on their own port (call `keel.listen()` or set this). @default none */
  adminPort?: number;
  /** @default '0.0.0.0' */
  adminHost?: string;
}

export interface KeelOptions {
  /** Shown in `/health` and reports. @default 'app' */
  service?: string;
  /** Where all time comes from; tests pass `createFakeClock()`. @default systemClock */
  clock?: Clock;
  window?: {
    /** Length of one interval of the rolling windows, ms. @default 10000 */
    interval?: number;
    /** Default budget window, ms; a multiple of `interval`. @default 300000 (5 min) */
    length?: number;
  };
  /** Tune, switch off (`false`) or add budgets. @default the five budgets of the performance budget */
  budgets?: BudgetsOption;
  /** SRE-workbook multi-window burn-rate pairs. @default 5m/1h ×14.4 and 30m/6h ×6 */
  burnRateWindows?: BurnRateWindow[];
  /** Consecutive evaluations a new budget state must hold before it is adopted. @default 2 */
  hysteresis?: number;
  /** Share of the error budget in use at which a met budget turns `at_risk`. @default 0.8 */
  atRiskRatio?: number;
  /** Fewer samples than this in a window and a budget reports `no_data`. @default 10 */
  minSamples?: number;
  /** User-defined signals, by name. */
  signals?: Record<string, SignalOptions>;
  /** Caps applied to every signal. */
  limits?: {
    /** @default 1000 */
    maxSeries?: number;
    /** @default 200 */
    maxGroups?: number;
    /** @default 256 */
    maxLabelLength?: number;
  };
  http?: {
    /** Count 4xx responses as errors too. @default false */
    clientErrorsAreErrors?: boolean;
  };
  /** Runtime sampling; `false` turns it off. */
  runtime?: RuntimeOptions | false;
  health?: {
    /** How long the score must stay >= 8 to be "stable", ms. @default 1800000 (30 min) */
    stabilityWindow?: number;
    /** `/readyz` answers 503 below this score. 0 disables it, so a fleet-wide slowdown cannot drain every instance. @default 0 */
    readinessMinScore?: number;
    /** Not ready until `keel.markStarted()` is called. @default false */
    manualStartup?: boolean;
    /**
     * A file Keel touches every interval. On start, the time since the last
     * touch (a crash or restart) counts as downtime in the availability budget.
     * @default none
     */
    heartbeatFile?: string;
  };
  endpoints?: EndpointOptions;
  /**
   * Turn new requests away with 503 + Retry-After while the process is
   * overloaded (adapters apply it; probes and critical routes are exempt);
   * `false` never sheds on pressure (the monitor can still force it).
   */
  shedding?:
    | {
        /** Event-loop delay p99 at which shedding starts, ms. @default 1000 */
        eventLoopDelay?: number;
        /** Heap used / heap limit at which shedding starts. @default 0.98 */
        heapUsedRatio?: number;
        /** `Retry-After`, seconds. @default 5 */
        retryAfter?: number;
      }
    | false;
  /**
   * Time budget of one request, ms, carried in the request context so
   * `@keel/pg` can cancel queries that would overrun it; `false` for none.
   * Adapters accept a per-route value. @default the `api_latency` target (200), if that budget is on
   */
  requestDeadline?: number | false;
  /**
   * The collector for `@keel/web-vitals` beacons (TTI, LCP, INP, CLS, FCP,
   * TTFB), mounted by the adapters; `false` switches it off.
   * @default on, at `/keel/vitals`, same-site pages only
   */
  vitals?: VitalsOptions | false;
  /** A prom-client registry whose metrics `/metrics` serves after Keel's own. @default a new Registry */
  registry?: Registry;
  /** Receives every failure Keel caught after setup. @default log once per place */
  onError?: ErrorHandler;
}

export interface ResolvedBudget {
  readonly name: string;
  readonly kind: BudgetKind;
  readonly signal: string;
  readonly target: number;
  readonly percentile: number;
  readonly group: string | undefined;
  /** Window in intervals. */
  readonly windowIntervals: number;
  readonly description: string;
}

export interface KeelConfig {
  readonly service: string;
  readonly clock: Clock;
  readonly interval: number;
  /** Ring length, in intervals, of the per-group windows. */
  readonly windowIntervals: number;
  /** Ring length, in intervals, of the per-budget good/total history. */
  readonly historyIntervals: number;
  readonly budgets: readonly ResolvedBudget[];
  readonly burnRateWindows: readonly BurnRateWindow[];
  readonly hysteresis: number;
  readonly atRiskRatio: number;
  readonly minSamples: number;
  readonly signals: readonly SignalDefinition[];
  readonly clientErrorsAreErrors: boolean;
  readonly runtime: Readonly<{
    sampleInterval: number;
    eventLoopDelay: Thresholds;
    eventLoopUtilization: Thresholds;
    heap: Thresholds;
  }> | null;
  readonly stabilityWindow: number;
  readonly readinessMinScore: number;
  readonly manualStartup: boolean;
  readonly heartbeatFile: string | undefined;
  readonly endpoints: Readonly<{
    token: string | undefined;
    public: readonly EndpointName[];
    prefix: string;
    adminPort: number | undefined;
    adminHost: string;
  }>;
  readonly onError: ErrorHandler | undefined;
  readonly shedding: SheddingConfig;
  readonly requestDeadline: number | undefined;
  /** The web-vitals collector, or `null` when off. */
  readonly vitals: VitalsConfig | null;
}

export const HTTP_SIGNAL = 'http.server.request.duration';
export const DB_SIGNAL = 'db.client.operation.duration';
export const TTI_SIGNAL = 'web_vitals.tti';

/** OpenTelemetry's recommended boundaries for request durations, in ms. */
const LATENCY_BOUNDARIES = [5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000];
const PAGE_LOAD_BOUNDARIES = [
  500, 1000, 1500, 2000, 2500, 3000, 4000, 5000, 7500, 10000, 15000, 20000, 30000,
];

const BUILT_IN_SIGNALS: Record<string, SignalOptions> = {
  [HTTP_SIGNAL]: {
    description: 'Duration of HTTP server requests.',
    // `keel_outcome` is empty (absent) when the app answered, and names why when Keel did.
    labels: ['http_request_method', 'http_route', 'http_response_status_code', 'keel_outcome'],
    groupBy: 'http_route',
    boundaries: LATENCY_BOUNDARIES,
  },
  [DB_SIGNAL]: {
    description: 'Duration of database client operations.',
    labels: ['db_operation_name', 'db_query_summary'],
    groupBy: 'db_query_summary',
    boundaries: LATENCY_BOUNDARIES,
  },
  [TTI_SIGNAL]: {
    description: 'Time To Interactive measured in real browsers.',
    labels: ['page_group'],
    groupBy: 'page_group',
    boundaries: PAGE_LOAD_BOUNDARIES,
  },
  // Boundaries include Google's "good" and "poor" thresholds of each metric.
  [VITAL_METRICS.LCP.signal]: {
    description: 'Largest Contentful Paint measured in real browsers.',
    labels: ['page_group'],
    groupBy: 'page_group',
    boundaries: PAGE_LOAD_BOUNDARIES,
  },
  [VITAL_METRICS.FCP.signal]: {
    description: 'First Contentful Paint measured in real browsers.',
    labels: ['page_group'],
    groupBy: 'page_group',
    boundaries: [...PAGE_LOAD_BOUNDARIES, 1800].sort((a, b) => a - b),
  },
  [VITAL_METRICS.TTFB.signal]: {
    description: 'Time To First Byte of the page, measured in real browsers.',
    labels: ['page_group'],
    groupBy: 'page_group',
    boundaries: [100, 200, 400, 800, 1200, 1800, 2500, 5000, 10000],
  },
  [VITAL_METRICS.INP.signal]: {
    description: 'Interaction to Next Paint measured in real browsers.',
    labels: ['page_group'],
    groupBy: 'page_group',
    boundaries: [25, 50, 100, 200, 300, 500, 750, 1000, 2000, 5000],
  },
  [VITAL_METRICS.CLS.signal]: {
    description: 'Cumulative Layout Shift measured in real browsers (unitless).',
    unit: '1',
    labels: ['page_group'],
    groupBy: 'page_group',
    boundaries: [0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2.5],
  },
};

const DEFAULT_BUDGETS: Record<DefaultBudgetName, BudgetOptions> = {
  availability: { kind: 'availability', signal: HTTP_SIGNAL, target: 99.9 },
  api_latency: { kind: 'latency', signal: HTTP_SIGNAL, percentile: 95, target: 200 },
  page_load: { kind: 'latency', signal: TTI_SIGNAL, percentile: 75, target: 3000 },
  error_rate: { kind: 'error_rate', signal: HTTP_SIGNAL, target: 0.1 },
  db_latency: { kind: 'latency', signal: DB_SIGNAL, percentile: 95, target: 100 },
  // Google's "good" thresholds, judged at p75 like the Chrome UX Report.
  lcp: { kind: 'latency', signal: VITAL_METRICS.LCP.signal, percentile: 75, target: 2500 },
  inp: { kind: 'latency', signal: VITAL_METRICS.INP.signal, percentile: 75, target: 200 },
  cls: { kind: 'latency', signal: VITAL_METRICS.CLS.signal, percentile: 75, target: 0.1 },
};

const MINUTE = 60_000;
const DEFAULT_BURN_RATE_WINDOWS: BurnRateWindow[] = [
  { short: 5 * MINUTE, long: 60 * MINUTE, factor: 14.4 },
  { short: 30 * MINUTE, long: 360 * MINUTE, factor: 6 },
];

type Check = (value: unknown) => boolean;
const isPositiveInteger: Check = (v) => Number.isInteger(v) && (v as number) > 0;
const isNonNegativeNumber: Check = (v) => typeof v === 'number' && Number.isFinite(v) && v >= 0;
const isPositiveNumber: Check = (v) => typeof v === 'number' && Number.isFinite(v) && v > 0;

function read<T>(path: string, value: unknown, fallback: T, valid: Check, rule: string): T {
  if (value === undefined) return fallback;
  if (!valid(value)) throw invalidOption(path, rule, value);
  return value as T;
}

function object(path: string, value: unknown): Record<string, unknown> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidOption(path, 'must be an object', value);
  }
  return value as Record<string, unknown>;
}

function readThresholds(path: string, value: unknown, fallback: Thresholds): Thresholds {
  const o = object(path, value);
  const t: Thresholds = {
    ok: read(`${path}.ok`, o.ok, fallback.ok, isNonNegativeNumber, 'must be a number >= 0'),
    warn: read(`${path}.warn`, o.warn, fallback.warn, isNonNegativeNumber, 'must be a number >= 0'),
    bad: read(`${path}.bad`, o.bad, fallback.bad, isNonNegativeNumber, 'must be a number >= 0'),
    critical: read(
      `${path}.critical`,
      o.critical,
      fallback.critical,
      isNonNegativeNumber,
      'must be a number >= 0',
    ),
  };
  if (!(t.ok <= t.warn && t.warn <= t.bad && t.bad <= t.critical && t.ok < t.critical)) {
    throw invalidOption(path, 'must satisfy ok <= warn <= bad <= critical, with ok < critical', value);
  }
  return Object.freeze(t);
}

const RENAMED: Record<string, string> = {
  port: 'endpoints.adminPort',
  token: 'endpoints.token',
  budget: 'budgets',
};

const KNOWN_KEYS = new Set([
  'service',
  'clock',
  'window',
  'budgets',
  'burnRateWindows',
  'hysteresis',
  'atRiskRatio',
  'minSamples',
  'signals',
  'limits',
  'http',
  'runtime',
  'health',
  'endpoints',
  'registry',
  'onError',
  'shedding',
  'requestDeadline',
  'vitals',
]);

/** Validates options and applies every default in one place; the result is frozen. */
export function resolveOptions(input: KeelOptions | undefined): KeelConfig {
  const options = object('options', input) as KeelOptions & Record<string, unknown>;
  for (const key of Object.keys(options)) {
    // The config file's sections for tools (`defineConfig` validates them) ride along unread.
    if (KNOWN_KEYS.has(key) || CONFIG_FILE_SECTIONS.has(key)) continue;
    const renamed = RENAMED[key];
    throw invalidOption(
      key,
      renamed ? `is not an option; use \`${renamed}\`` : 'is not a known option',
      options[key],
    );
  }

  const service = read(
    'service',
    options.service,
    'app',
    (v) => typeof v === 'string' && v.length > 0,
    'must be a non-empty string',
  );
  const clock = read<Clock>(
    'clock',
    options.clock,
    systemClock,
    (v) =>
      typeof v === 'object' &&
      v !== null &&
      typeof (v as Clock).now === 'function' &&
      typeof (v as Clock).setTimeout === 'function' &&
      typeof (v as Clock).clearTimeout === 'function',
    'must implement now(), setTimeout() and clearTimeout()',
  );

  const windowOptions = object('window', options.window);
  const interval = read(
    'window.interval',
    windowOptions.interval,
    10_000,
    (v) => isPositiveInteger(v) && (v as number) >= 100,
    'must be an integer >= 100 (ms)',
  );
  const windowLength = read(
    'window.length',
    windowOptions.length,
    roundToInterval(300_000, interval),
    (v) => isPositiveInteger(v) && (v as number) % interval === 0,
    `must be a positive multiple of window.interval (${interval} ms)`,
  );

  const burnRateWindows = readBurnRateWindows(options.burnRateWindows, interval);
  const hysteresis = read('hysteresis', options.hysteresis, 2, isPositiveInteger, 'must be an integer >= 1');
  const atRiskRatio = read(
    'atRiskRatio',
    options.atRiskRatio,
    0.8,
    (v) => isPositiveNumber(v) && (v as number) <= 1,
    'must be a number in (0, 1]',
  );
  const minSamples = read('minSamples', options.minSamples, 10, isPositiveInteger, 'must be an integer >= 1');

  const limits = object('limits', options.limits);
  const maxSeries = read(
    'limits.maxSeries',
    limits.maxSeries,
    1000,
    isPositiveInteger,
    'must be an integer >= 1',
  );
  const maxGroups = read(
    'limits.maxGroups',
    limits.maxGroups,
    200,
    isPositiveInteger,
    'must be an integer >= 1',
  );
  const maxLabelLength = read(
    'limits.maxLabelLength',
    limits.maxLabelLength,
    256,
    isPositiveInteger,
    'must be an integer >= 1',
  );

  const undescribed = resolveBudgets(options.budgets, interval, windowLength);
  const signals = resolveSignals(options.signals, undescribed, { maxSeries, maxGroups, maxLabelLength });
  const budgets = undescribed.map((budget) => {
    const signal = signals.find((s) => s.name === budget.signal);
    if (!signal) {
      throw invalidOption(
        `budgets.${budget.name}.signal`,
        'must name a built-in signal or one defined in `signals`',
        budget.signal,
      );
    }
    return budget.description
      ? budget
      : Object.freeze({ ...budget, description: describeBudget(budget, signal.unit) });
  });

  const longestBudgetWindow = Math.max(windowLength / interval, ...budgets.map((b) => b.windowIntervals));
  const longestBurnWindow = Math.max(0, ...burnRateWindows.map((w) => w.long / interval));

  const http = object('http', options.http);
  const clientErrorsAreErrors = read(
    'http.clientErrorsAreErrors',
    http.clientErrorsAreErrors,
    false,
    (v) => typeof v === 'boolean',
    'must be a boolean',
  );

  let runtime: KeelConfig['runtime'] = null;
  if (options.runtime !== false) {
    const r = object('runtime', options.runtime);
    runtime = Object.freeze({
      sampleInterval: read(
        'runtime.sampleInterval',
        r.sampleInterval,
        1000,
        (v) => isPositiveInteger(v) && (v as number) >= 10,
        'must be an integer >= 10 (ms)',
      ),
      eventLoopDelay: readThresholds('runtime.eventLoopDelay', r.eventLoopDelay, {
        ok: 20,
        warn: 100,
        bad: 500,
        critical: 2000,
      }),
      eventLoopUtilization: readThresholds('runtime.eventLoopUtilization', r.eventLoopUtilization, {
        ok: 0.7,
        warn: 0.9,
        bad: 0.97,
        critical: 1,
      }),
      heap: readThresholds('runtime.heap', r.heap, { ok: 0.7, warn: 0.85, bad: 0.95, critical: 1 }),
    });
  }

  const health = object('health', options.health);
  const endpoints = object('endpoints', options.endpoints);
  const endpointNames: EndpointName[] = ['livez', 'readyz', 'health', 'metrics'];
  const prefix = read(
    'endpoints.prefix',
    endpoints.prefix,
    '',
    (v) => typeof v === 'string' && (v === '' || (/^\/[^?#\s]*$/.test(v) && !v.endsWith('/'))),
    'must be empty or a path like "/ops" (leading slash, no trailing slash)',
  );

  if (
    options.registry !== undefined &&
    (typeof options.registry !== 'object' || typeof (options.registry as Registry).metrics !== 'function')
  ) {
    throw invalidOption('registry', 'must be a prom-client Registry', options.registry);
  }

  const shedding = resolveShedding(options.shedding);
  const apiLatency = budgets.find((b) => b.name === 'api_latency');
  const requestDeadline = read<number | false | undefined>(
    'requestDeadline',
    options.requestDeadline,
    apiLatency?.target,
    (v) => v === false || (isPositiveInteger(v) && (v as number) <= 3_600_000),
    'must be false or an integer number of ms from 1 to 3600000',
  );

  const vitals = resolveVitalsOptions(options.vitals);

  return Object.freeze({
    vitals,
    shedding,
    requestDeadline: requestDeadline === false ? undefined : requestDeadline,
    service,
    clock,
    interval,
    windowIntervals: longestBudgetWindow,
    historyIntervals: Math.max(longestBudgetWindow, longestBurnWindow),
    budgets: Object.freeze(budgets),
    burnRateWindows: Object.freeze(burnRateWindows),
    hysteresis,
    atRiskRatio,
    minSamples,
    signals: Object.freeze(signals),
    clientErrorsAreErrors,
    runtime,
    stabilityWindow: read(
      'health.stabilityWindow',
      health.stabilityWindow,
      30 * MINUTE,
      isPositiveInteger,
      'must be an integer >= 1 (ms)',
    ),
    readinessMinScore: read(
      'health.readinessMinScore',
      health.readinessMinScore,
      0,
      (v) => isNonNegativeNumber(v) && (v as number) <= 10,
      'must be a number from 0 to 10',
    ),
    manualStartup: read(
      'health.manualStartup',
      health.manualStartup,
      false,
      (v) => typeof v === 'boolean',
      'must be a boolean',
    ),
    heartbeatFile: read<string | undefined>(
      'health.heartbeatFile',
      health.heartbeatFile,
      undefined,
      (v) => typeof v === 'string' && v.length > 0,
      'must be a file path',
    ),
    endpoints: Object.freeze({
      token: read<string | undefined>(
        'endpoints.token',
        endpoints.token,
        undefined,
        (v) => typeof v === 'string' && v.length >= 16,
        'must be a string of at least 16 characters',
      ),
      public: Object.freeze(
        read<EndpointName[]>(
          'endpoints.public',
          endpoints.public,
          ['livez', 'readyz'],
          (v) => Array.isArray(v) && v.every((e) => endpointNames.includes(e)),
          `must be an array of ${endpointNames.join(', ')}`,
        ).slice(),
      ),
      prefix,
      adminPort: read<number | undefined>(
        'endpoints.adminPort',
        endpoints.adminPort,
        undefined,
        (v) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 65535,
        'must be a port number from 0 to 65535',
      ),
      adminHost: read(
        'endpoints.adminHost',
        endpoints.adminHost,
        '0.0.0.0',
        (v) => typeof v === 'string' && v.length > 0,
        'must be a host name or address',
      ),
    }),
    onError: read<KeelConfig['onError']>(
      'onError',
      options.onError,
      undefined,
      (v) => typeof v === 'function',
      'must be a function',
    ),
  });
}

function readBurnRateWindows(value: unknown, interval: number): BurnRateWindow[] {
  if (value === undefined) {
    // Defaults follow a custom interval; windows a user writes must be exact multiples.
    return DEFAULT_BURN_RATE_WINDOWS.map((w) =>
      Object.freeze({
        short: roundToInterval(w.short, interval),
        long: roundToInterval(w.long, interval),
        factor: w.factor,
      }),
    );
  }
  if (!Array.isArray(value))
    throw invalidOption('burnRateWindows', 'must be an array of { short, long, factor }', value);
  return value.map((w, i) => {
    const o = object(`burnRateWindows[${i}]`, w);
    const multiple: Check = (v) => isPositiveInteger(v) && (v as number) % interval === 0;
    const short = read(
      `burnRateWindows[${i}].short`,
      o.short,
      0,
      multiple,
      `must be a positive multiple of window.interval (${interval} ms)`,
    );
    const long = read(
      `burnRateWindows[${i}].long`,
      o.long,
      0,
      multiple,
      `must be a positive multiple of window.interval (${interval} ms)`,
    );
    const factor = read(
      `burnRateWindows[${i}].factor`,
      o.factor,
      0,
      isPositiveNumber,
      'must be a number > 0',
    );
    if (!short || !long || !factor)
      throw invalidOption(`burnRateWindows[${i}]`, 'needs short, long and factor', w);
    if (short >= long) throw invalidOption(`burnRateWindows[${i}].short`, 'must be shorter than long', short);
    return Object.freeze({ short, long, factor });
  });
}

function resolveBudgets(value: unknown, interval: number, windowLength: number): ResolvedBudget[] {
  const given = object('budgets', value);
  const names = new Set([...Object.keys(DEFAULT_BUDGETS), ...Object.keys(given)]);
  const resolved: ResolvedBudget[] = [];
  for (const name of names) {
    const override = given[name];
    if (override === false) continue;
    const path = `budgets.${name}`;
    if (!/^[a-z][a-z0-9_]*$/.test(name) || name.length > 64)
      throw invalidOption(path, 'needs a snake_case name of at most 64 characters', name);
    const base = (DEFAULT_BUDGETS as Record<string, BudgetOptions | undefined>)[name];
    const o = { ...base, ...object(path, override) } as Partial<BudgetOptions>;
    const kind = read<BudgetKind | undefined>(
      `${path}.kind`,
      o.kind,
      undefined,
      (v) => v === 'latency' || v === 'error_rate' || v === 'availability',
      "must be 'latency', 'error_rate' or 'availability'",
    );
    if (!kind)
      throw invalidOption(
        `${path}.kind`,
        "is required for a budget that is not a default ('latency', 'error_rate' or 'availability')",
        o.kind,
      );
    const signal = read<string | undefined>(
      `${path}.signal`,
      o.signal,
      undefined,
      isValidSignalName,
      'must be a signal name',
    );
    if (!signal) throw invalidOption(`${path}.signal`, 'is required', o.signal);
    const ratioKind = kind !== 'latency';
    const target = read<number | undefined>(
      `${path}.target`,
      o.target,
      undefined,
      ratioKind ? (v) => isPositiveNumber(v) && (v as number) < 100 : isPositiveNumber,
      ratioKind ? 'must be a percentage in (0, 100)' : "must be a number > 0 in the signal's unit",
    );
    if (target === undefined) throw invalidOption(`${path}.target`, 'is required', o.target);
    const percentile = read(
      `${path}.percentile`,
      o.percentile,
      95,
      (v) => isPositiveNumber(v) && (v as number) < 100,
      'must be a number in (0, 100)',
    );
    const window = read(
      `${path}.window`,
      o.window,
      windowLength,
      (v) => isPositiveInteger(v) && (v as number) % interval === 0,
      `must be a positive multiple of window.interval (${interval} ms)`,
    );
    const group = read<string | undefined>(
      `${path}.group`,
      o.group,
      undefined,
      (v) => typeof v === 'string',
      'must be a string',
    );
    const description = read(
      `${path}.description`,
      o.description,
      undefined as string | undefined,
      (v) => typeof v === 'string',
      'must be a string',
    );
    resolved.push(
      Object.freeze({
        name,
        kind,
        signal,
        target,
        percentile,
        group,
        windowIntervals: window / interval,
        // Filled in by resolveOptions once the signal, and so the unit, is known.
        description: description ?? '',
      }),
    );
  }
  return resolved;
}

function describeBudget(budget: ResolvedBudget, unit: SignalDefinition['unit']): string {
  const { kind, signal, target, percentile } = budget;
  if (kind === 'latency') return `p${percentile} of ${signal} <= ${target}${unit === '1' ? '' : ` ${unit}`}`;
  if (kind === 'error_rate') return `errors in ${signal} < ${target} %`;
  return `availability of ${signal} > ${target} %`;
}

function resolveSignals(
  value: unknown,
  budgets: readonly ResolvedBudget[],
  limits: { maxSeries: number; maxGroups: number; maxLabelLength: number },
): SignalDefinition[] {
  const given = object('signals', value);
  for (const name of Object.keys(given)) {
    if (name in BUILT_IN_SIGNALS)
      throw invalidOption(`signals.${name}`, 'is a built-in signal and cannot be redefined', name);
  }
  const all = { ...BUILT_IN_SIGNALS, ...given } as Record<string, unknown>;
  return Object.entries(all).map(([name, raw]) => {
    const path = `signals.${name}`;
    if (!isValidSignalName(name))
      throw invalidOption(path, 'needs a name of letters, digits, "_" and "."', name);
    const o = object(path, raw) as SignalOptions;
    const unit = read<SignalDefinition['unit']>(
      `${path}.unit`,
      o.unit,
      'ms',
      (v) => v === 'ms' || v === 's' || v === '1' || v === 'By',
      "must be 'ms', 's', '1' or 'By'",
    );
    const labels = read<string[]>(
      `${path}.labels`,
      o.labels,
      [],
      (v) => Array.isArray(v) && v.length <= 4 && v.every(isValidLabelName) && new Set(v).size === v.length,
      'must be at most 4 distinct label names (letters, digits, "_"; not starting with "__")',
    );
    const groupBy = read<string | undefined>(
      `${path}.groupBy`,
      o.groupBy,
      undefined,
      (v) => typeof v === 'string' && labels.includes(v),
      "must be one of the signal's labels",
    );
    const boundaries = read<number[]>(
      `${path}.boundaries`,
      o.boundaries,
      LATENCY_BOUNDARIES,
      (v) => Array.isArray(v) && v.length > 0 && v.length <= 64 && v.every(isPositiveNumber),
      'must be 1 to 64 numbers > 0',
    );
    const targets = budgets.filter((b) => b.signal === name && b.kind === 'latency').map((b) => b.target);
    const merged = [...new Set([...boundaries, ...targets])].sort((a, b) => a - b);
    return Object.freeze({
      name,
      description: read(
        `${path}.description`,
        o.description,
        `Keel signal ${name}.`,
        (v) => typeof v === 'string',
        'must be a string',
      ),
      unit,
      labels: Object.freeze(labels.slice()),
      groupBy,
      boundaries: Object.freeze(merged),
      maxSeries: read(
        `${path}.maxSeries`,
        o.maxSeries,
        limits.maxSeries,
        isPositiveInteger,
        'must be an integer >= 1',
      ),
      maxGroups: read(
        `${path}.maxGroups`,
        o.maxGroups,
        limits.maxGroups,
        isPositiveInteger,
        'must be an integer >= 1',
      ),
      maxLabelLength: limits.maxLabelLength,
    });
  });
}

function resolveShedding(value: unknown): SheddingConfig {
  if (value === false)
    return Object.freeze({
      enabled: false,
      eventLoopDelay: Infinity,
      heapUsedRatio: Infinity,
      retryAfterSeconds: 5,
    });
  const o = object('shedding', value);
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

/** The multiple of `interval` nearest to `ms`, and at least one interval. */
function roundToInterval(ms: number, interval: number): number {
  return Math.max(1, Math.round(ms / interval)) * interval;
}

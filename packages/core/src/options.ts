import type { Registry } from 'prom-client';
import {
  type BudgetRulesOptions,
  type BudgetsConfig,
  type BudgetsOption,
  budgetsConfig,
  describeBudgets,
  latencyTargets,
  resolveBudgetRules,
  resolveBudgets,
} from './budgets/budget-options.js';
import {
  type CapacityConfig,
  type CapacityOptions,
  type CostConfig,
  type CostOptions,
  resolveCapacityOptions,
  resolveCostOptions,
} from './capacity/capacity-options.js';
import { type Clock, systemClock } from './clock.js';
import { CONFIG_FILE_SECTIONS } from './config/config-file-sections.js';
import { resolveRequestDeadline } from './context/deadline-options.js';
import { type ErrorHandler, invalidOption, invalidOptionOf } from './errors.js';
import { type HealthConfig, type HealthOptions, resolveHealthOptions } from './health/health-options.js';
import {
  type EndpointOptions,
  type EndpointsConfig,
  resolveEndpointOptions,
} from './http/endpoint-options.js';
import {
  type OptimiseConfig,
  type OptimiseOptions,
  resolveOptimiseOptions,
} from './optimise/optimise-options.js';
import { object, read } from './option-readers.js';
import {
  resolveSheddingOptions,
  type SheddingConfig,
  type SheddingOptions,
} from './pressure/shedding-options.js';
import { type RuntimeConfig, type RuntimeOptions, resolveRuntimeOptions } from './runtime/runtime-options.js';
import { type HttpOptions, resolveHttpOptions } from './signals/http-signal.js';
import type { SignalDefinition } from './signals/signal.js';
import {
  resolveSignalLimits,
  resolveSignals,
  type SignalLimitsOptions,
  type SignalOptions,
} from './signals/signal-options.js';
import { resolveWindowOptions, type WindowOptions } from './signals/window-options.js';
import { resolveVitalsOptions, type VitalsConfig, type VitalsOptions } from './vitals/vitals-options.js';

// `createKeel`'s options, composed: each concept owns its options type, its
// defaults and its validation next to the code that uses them (to add an
// option, edit that concept's `*-options.ts`); this file only lists them and
// calls each resolver.

export interface KeelOptions extends BudgetRulesOptions {
  /** Shown in `/health` and reports. @default 'app' */
  service?: string;
  /** Where all time comes from; tests pass `createFakeClock()`. @default systemClock */
  clock?: Clock;
  /** The rolling windows every signal keeps. @default 10 s intervals, 5 min windows */
  window?: WindowOptions;
  /** Tune, switch off (`false`) or add budgets. @default the five budgets of the performance budget */
  budgets?: BudgetsOption;
  /** User-defined signals, by name. @default none besides the built-in ones */
  signals?: Record<string, SignalOptions>;
  /** Caps applied to every signal. @default 1000 series, 200 groups, 256-character labels */
  limits?: SignalLimitsOptions;
  /** How HTTP answers are judged. @default 5xx are errors, 4xx are not */
  http?: HttpOptions;
  /** Runtime sampling; `false` turns it off. @default on, every second */
  runtime?: RuntimeOptions | false;
  /** Stability, readiness and restarts. @default see each field */
  health?: HealthOptions;
  /** The four endpoints: paths, token, admin port. @default see each field */
  endpoints?: EndpointOptions;
  /**
   * Turn new requests away with 503 + Retry-After while the process is
   * overloaded (adapters apply it; probes and critical routes are exempt);
   * `false` never sheds on pressure (the monitor can still force it).
   * @default on, see each field
   */
  shedding?: SheddingOptions | false;
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
  /**
   * Prices of capacity, so scaling advice and the monitor's capacity actions
   * state what they cost (`keel.capacity.costOf`, `/health`'s `capacity`).
   * @default none: capacity is reported without prices
   */
  cost?: CostOptions;
  /** The capacity model's planning targets. @default 70 % utilisation of one core */
  capacity?: CapacityOptions;
  /**
   * The optimisation loop: when a route's p95 passes `triggerMs`, or on
   * demand (`keel.optimise()`), capture where requests' time goes, profile
   * the CPU, rank the bottlenecks and suggest fixes; and record the traffic
   * `keel loadtest` replays. `false` turns it off (nothing is built).
   * @default on, triggered at p95 > 1000 ms, see each field
   */
  optimise?: OptimiseOptions | false;
  /** A prom-client registry whose metrics `/metrics` serves after Keel's own. @default a new Registry */
  registry?: Registry;
  /** Receives every failure Keel caught after setup. @default log once per place */
  onError?: ErrorHandler;
}

/** The options after validation and defaults, frozen: what every part of an instance reads. */
export interface KeelConfig extends BudgetsConfig, HealthConfig {
  readonly service: string;
  readonly clock: Clock;
  readonly signals: readonly SignalDefinition[];
  readonly clientErrorsAreErrors: boolean;
  readonly runtime: RuntimeConfig | null;
  readonly endpoints: EndpointsConfig;
  readonly onError: ErrorHandler | undefined;
  readonly shedding: SheddingConfig;
  readonly requestDeadline: number | undefined;
  /** The web-vitals collector, or `null` when off. */
  readonly vitals: VitalsConfig | null;
  /** Prices of capacity, or `null` when not configured. */
  readonly cost: CostConfig | null;
  readonly capacity: CapacityConfig;
  /** The optimisation loop, or `null` when off. */
  readonly optimise: OptimiseConfig | null;
}

const RENAMED: Record<string, string> = {
  port: 'endpoints.adminPort',
  token: 'endpoints.token',
  budget: 'budgets',
};

const KNOWN_KEYS: ReadonlySet<string> = new Set([
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
  'cost',
  'capacity',
  'optimise',
] satisfies (keyof KeelOptions)[]);

/**
 * For an adapter whose options are `createKeel`'s plus its own: rejects the
 * first key that is neither, named by the function the caller called (`who`)
 * rather than by `createKeel`, with the adapter's `hint` for a key that
 * belongs elsewhere, else the nearest known key when one is a typo away
 * (`mountEndpoint` → `mountEndpoints`). Keys core renamed are left to
 * `createKeel`, which names their replacement.
 */
export function checkAdapterOptionKeys(
  who: string,
  options: object,
  own: ReadonlySet<string>,
  hints: Readonly<Record<string, string>> = {},
): void {
  for (const key of Object.keys(options)) {
    if (own.has(key) || KNOWN_KEYS.has(key) || CONFIG_FILE_SECTIONS.has(key) || Object.hasOwn(RENAMED, key))
      continue;
    const hint = Object.hasOwn(hints, key) ? hints[key] : undefined;
    const near = hint === undefined ? nearestKey(key, [...own, ...KNOWN_KEYS]) : undefined;
    const rule =
      hint ??
      (near === undefined
        ? `is not a known option (its own: ${[...own].join(', ')}; and every createKeel option)`
        : `is not a known option; did you mean \`${near}\`?`);
    throw invalidOptionOf(who, key, rule, (options as Record<string, unknown>)[key]);
  }
}

/** The candidate at most two edits from `key` (one for short keys), the closest first; none when no such one. */
function nearestKey(key: string, candidates: readonly string[]): string | undefined {
  const limit = key.length <= 5 ? 1 : 2;
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const candidate of candidates) {
    const d = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** Levenshtein distance; option names are short, so the quadratic table is a few hundred cells. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(
        (previous[j] as number) + 1,
        (row[j - 1] as number) + 1,
        (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = row;
  }
  return previous[b.length] as number;
}

/** Validates options and applies every default, through each concept's resolver; the result is frozen. */
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
    isClock,
    'must implement now(), setTimeout() and clearTimeout()',
  );

  const window = resolveWindowOptions(options.window);
  const rules = resolveBudgetRules(options, window.interval);
  const limits = resolveSignalLimits(options.limits);
  const undescribed = resolveBudgets(options.budgets, window);
  const signals = resolveSignals(options.signals, latencyTargets(undescribed), limits);
  const budgets = budgetsConfig(window, rules, describeBudgets(undescribed, signals));
  const http = resolveHttpOptions(options.http);
  const runtime = resolveRuntimeOptions(options.runtime);
  const health = resolveHealthOptions(options.health);
  const endpoints = resolveEndpointOptions(options.endpoints);
  if (
    options.registry !== undefined &&
    (typeof options.registry !== 'object' || typeof (options.registry as Registry).metrics !== 'function')
  ) {
    throw invalidOption('registry', 'must be a prom-client Registry', options.registry);
  }
  const shedding = resolveSheddingOptions(options.shedding);
  const apiLatency = budgets.budgets.find((b) => b.name === 'api_latency');
  const requestDeadline = resolveRequestDeadline(options.requestDeadline, apiLatency?.target);
  const vitals = resolveVitalsOptions(options.vitals);
  const cost = resolveCostOptions(options.cost);
  const capacity = resolveCapacityOptions(options.capacity);
  // The fleet size is said once: `cost.instances` also tells the optimiser how many pools share the database.
  const optimise = resolveOptimiseOptions(options.optimise, window.interval, cost?.instances);
  const onError = read<ErrorHandler | undefined>(
    'onError',
    options.onError,
    undefined,
    (v) => typeof v === 'function',
    'must be a function',
  );

  return Object.freeze({
    service,
    clock,
    ...budgets,
    signals: Object.freeze(signals),
    clientErrorsAreErrors: http.clientErrorsAreErrors,
    runtime,
    ...health,
    endpoints,
    onError,
    shedding,
    requestDeadline,
    vitals,
    cost,
    capacity,
    optimise,
  });
}

function isClock(v: unknown): boolean {
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof (v as Clock).now === 'function' &&
    typeof (v as Clock).setTimeout === 'function' &&
    typeof (v as Clock).clearTimeout === 'function'
  );
}

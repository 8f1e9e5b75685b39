import type { KeelOptions } from '../options.js';
import { OptionReader } from './option-reader.js';

const NESTED: Readonly<Record<string, readonly string[]>> = {
  window: ['interval', 'length'],
  limits: ['maxSeries', 'maxGroups', 'maxLabelLength'],
  http: ['clientErrorsAreErrors'],
  runtime: ['sampleInterval', 'eventLoopDelay', 'eventLoopUtilization', 'heap'],
  health: ['stabilityWindow', 'readinessMinScore', 'manualStartup', 'heartbeatFile'],
  endpoints: ['token', 'public', 'prefix', 'adminPort', 'adminHost'],
  shedding: ['eventLoopDelay', 'heapUsedRatio', 'retryAfter'],
};
const THRESHOLDS = ['ok', 'warn', 'bad', 'critical'];
const BUDGET = ['kind', 'signal', 'target', 'percentile', 'group', 'window', 'description'];
const SIGNAL = ['description', 'unit', 'labels', 'groupBy', 'boundaries', 'maxSeries', 'maxGroups'];
const BURN_RATE_WINDOW = ['short', 'long', 'factor'];

const plain = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Rejects misspelt keys inside `createKeel`'s option objects (`window.intervall`,
 * `budgets.api_latency.treshold`), which the engine's resolver would ignore: in
 * a config file a typo must not silently keep a default. Values are left to
 * the resolver; only objects are walked.
 */
export function checkKeelOptionKeys(options: KeelOptions): void {
  const reader = new OptionReader('createKeel');
  const o = options as Record<string, unknown>;
  for (const [section, known] of Object.entries(NESTED)) {
    if (plain(o[section])) reader.known(section, o[section], known);
  }
  if (plain(o.runtime)) {
    for (const key of ['eventLoopDelay', 'eventLoopUtilization', 'heap']) {
      const thresholds = o.runtime[key];
      if (plain(thresholds)) reader.known(`runtime.${key}`, thresholds, THRESHOLDS);
    }
  }
  if (plain(o.budgets)) {
    for (const [name, budget] of Object.entries(o.budgets)) {
      if (plain(budget)) reader.known(`budgets.${name}`, budget, BUDGET);
    }
  }
  if (plain(o.signals)) {
    for (const [name, signal] of Object.entries(o.signals)) {
      if (plain(signal)) reader.known(`signals.${name}`, signal, SIGNAL);
    }
  }
  if (Array.isArray(o.burnRateWindows)) {
    o.burnRateWindows.forEach((w, i) => {
      if (plain(w)) reader.known(`burnRateWindows[${i}]`, w, BURN_RATE_WINDOW);
    });
  }
}

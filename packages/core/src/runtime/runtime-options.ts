import { isPositiveInteger, object, read, readThresholds, type Thresholds } from '../option-readers.js';

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

/** Runtime sampling, resolved: how often, and the thresholds each runtime component is scored against. */
export type RuntimeConfig = Readonly<{
  sampleInterval: number;
  eventLoopDelay: Thresholds;
  eventLoopUtilization: Thresholds;
  heap: Thresholds;
}>;

const KEYS: ReadonlySet<string> = new Set([
  'sampleInterval',
  'eventLoopDelay',
  'eventLoopUtilization',
  'heap',
]);

/** Validates `options.runtime`; `null` when sampling is off. */
export function resolveRuntimeOptions(value: unknown): RuntimeConfig | null {
  if (value === false) return null;
  const o = object('runtime', value, KEYS);
  return Object.freeze({
    sampleInterval: read(
      'runtime.sampleInterval',
      o.sampleInterval,
      1000,
      (v) => isPositiveInteger(v) && (v as number) >= 10,
      'must be an integer >= 10 (ms)',
    ),
    eventLoopDelay: readThresholds('runtime.eventLoopDelay', o.eventLoopDelay, {
      ok: 20,
      warn: 100,
      bad: 500,
      critical: 2000,
    }),
    eventLoopUtilization: readThresholds('runtime.eventLoopUtilization', o.eventLoopUtilization, {
      ok: 0.7,
      warn: 0.9,
      bad: 0.97,
      critical: 1,
    }),
    heap: readThresholds('runtime.heap', o.heap, { ok: 0.7, warn: 0.85, bad: 0.95, critical: 1 }),
  });
}

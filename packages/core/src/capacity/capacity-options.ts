import { invalidOption } from '../errors.js';
import { isNonNegativeNumber, isPositiveInteger, isPositiveNumber, object, read } from '../option-readers.js';

/**
 * What capacity costs, so every scaling suggestion and every action that
 * changes capacity states its monthly price.
 */
export interface CostOptions {
  /** What one instance (a pod, a VM, a container) costs per hour, in `currency`. Required. */
  instanceHourly: number;
  /** The currency prices are in, as printed (`'USD'`, `'EUR'`). Required. */
  currency: string;
  /** What one database connection costs per hour (a pooler's per-connection price, or a share of the database's). @default 0 */
  dbConnectionHourly?: number;
  /** Instances of this app running now: the fleet this instance is one of. @default 1 */
  instances?: number;
}

export interface CostConfig {
  readonly instanceHourly: number;
  readonly currency: string;
  readonly dbConnectionHourly: number;
  readonly instances: number;
}

/** How the capacity model turns measured cost per request into requests per second. */
export interface CapacityOptions {
  /**
   * Share of one instance's event loop (and of its CPU) it is planned to use;
   * the rest is headroom for bursts, so latency stays within budget.
   * @default 0.7
   */
  targetUtilization?: number;
  /** CPU cores one instance may use (its container limit); Node's event loop itself uses one. @default 1 */
  cpus?: number;
}

export interface CapacityConfig {
  readonly targetUtilization: number;
  readonly cpus: number;
}

/** Hours in an average month (8760 / 12): what a monthly price is an hourly price times. */
export const HOURS_PER_MONTH = 730;

const COST_KEYS: ReadonlySet<string> = new Set([
  'instanceHourly',
  'currency',
  'dbConnectionHourly',
  'instances',
]);
const CAPACITY_KEYS: ReadonlySet<string> = new Set(['targetUtilization', 'cpus']);

/** Validates `options.cost`; `null` when it is left out (capacity is then reported without prices). */
export function resolveCostOptions(value: unknown): CostConfig | null {
  if (value === undefined) return null;
  const o = object('cost', value, COST_KEYS);
  if (o.instanceHourly === undefined)
    throw invalidOption('cost.instanceHourly', 'is required: the price of one instance per hour', undefined);
  if (o.currency === undefined) throw invalidOption('cost.currency', "is required, e.g. 'USD'", undefined);
  return Object.freeze({
    instanceHourly: read(
      'cost.instanceHourly',
      o.instanceHourly,
      0,
      isNonNegativeNumber,
      'must be a number >= 0 (price per hour)',
    ),
    currency: read(
      'cost.currency',
      o.currency,
      '',
      (v) => typeof v === 'string' && /^\S{1,16}$/.test(v),
      "must be 1-16 characters without spaces, e.g. 'USD'",
    ),
    dbConnectionHourly: read(
      'cost.dbConnectionHourly',
      o.dbConnectionHourly,
      0,
      isNonNegativeNumber,
      'must be a number >= 0 (price per connection per hour)',
    ),
    instances: read('cost.instances', o.instances, 1, isPositiveInteger, 'must be an integer >= 1'),
  });
}

/** Validates `options.capacity`. */
export function resolveCapacityOptions(value: unknown): CapacityConfig {
  const o = object('capacity', value, CAPACITY_KEYS);
  return Object.freeze({
    targetUtilization: read(
      'capacity.targetUtilization',
      o.targetUtilization,
      0.7,
      (v) => isPositiveNumber(v) && (v as number) <= 1,
      'must be a number in (0, 1]',
    ),
    cpus: read('capacity.cpus', o.cpus, 1, isPositiveNumber, 'must be a number > 0 (cores)'),
  });
}

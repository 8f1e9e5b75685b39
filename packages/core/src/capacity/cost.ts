import { checkKnownKeys, invalidOptionOf } from '../errors.js';
import type { CapacitySnapshot } from './capacity-model.js';
import { type CostConfig, HOURS_PER_MONTH } from './capacity-options.js';

/** A change in capacity to price (`keel.capacity.costOf`). Every field is a difference from now. */
export interface CapacityChange {
  /** Instances added to the fleet (negative: removed). @default 0 */
  instances?: number;
  /**
   * Database connections added to each instance's pool (negative: removed):
   * raising a pool's max from 10 to 20 is `10`. @default 0
   */
  dbConnections?: number;
  /**
   * Event-loop work added on each instance, ms per second (negative: saved,
   * e.g. by an index or a cache that takes work off the loop). @default 0
   */
  busyMsPerSecond?: number;
}

/** What a change in capacity costs and buys. */
export interface CostEstimate {
  /** `null` when `cost` is not configured. */
  readonly currency: string | null;
  /** Change in the fleet's cost per hour; `null` when `cost` is not configured. */
  readonly hourly: number | null;
  /** Change in the fleet's cost per month (730 hours); `null` when `cost` is not configured. */
  readonly monthly: number | null;
  /** Instances' worth of capacity the change adds to the fleet (fractional for work added or saved). */
  readonly instances: number;
  /** Requests per second the change adds to the fleet at the target utilisation (negative: removes); `null` before the model has measured enough. */
  readonly rps: number | null;
  /** Database connections the change adds across the fleet. */
  readonly dbConnections: number;
  /** One line, e.g. `+1 instance: +73.00 USD/month, +140 req/s`. */
  readonly text: string;
}

const KEYS: ReadonlySet<string> = new Set(['instances', 'dbConnections', 'busyMsPerSecond']);

/** Prices `change` with `cost` and the capacity measured in `model`. A malformed change throws `KEEL_INVALID_OPTION`. */
export function estimateCost(
  change: CapacityChange,
  cost: CostConfig | null,
  model: CapacitySnapshot,
): CostEstimate {
  if (typeof change !== 'object' || change === null || Array.isArray(change))
    throw invalidOptionOf('costOf', 'change', 'must be an object', change);
  checkKnownKeys(change, KEYS, (key, rule, got) => invalidOptionOf('costOf', key, rule, got));
  const added = finite('instances', change.instances);
  const connectionsEach = finite('dbConnections', change.dbConnections);
  const busy = finite('busyMsPerSecond', change.busyMsPerSecond);
  const fleet = model.instances;
  // Work on every instance, in instances' worth of the event loop at the target utilisation.
  const workInstances = (busy * fleet) / (1000 * model.targetUtilization);
  const instances = added - workInstances;
  const dbConnections = connectionsEach * fleet;
  const rps = model.rpsPerInstance === null ? null : instances * model.rpsPerInstance;
  const hourly = cost
    ? (added + workInstances) * cost.instanceHourly + dbConnections * cost.dbConnectionHourly
    : null;
  const monthly = hourly === null ? null : hourly * HOURS_PER_MONTH;

  const what: string[] = [];
  if (added !== 0) what.push(`${signed(added)} instance${Math.abs(added) === 1 ? '' : 's'}`);
  if (connectionsEach !== 0)
    what.push(
      `${signed(connectionsEach)} connection${Math.abs(connectionsEach) === 1 ? '' : 's'} per instance` +
        (fleet > 1 ? ` (×${fleet} instances)` : ''),
    );
  if (busy !== 0) what.push(`${signed(round(busy))} ms/s of event-loop work per instance`);
  const effects: string[] = [];
  effects.push(
    monthly === null || cost === null
      ? 'cost not configured (`cost` option)'
      : `${money(monthly, cost.currency)}/month`,
  );
  if (rps !== null && instances !== 0) effects.push(`${signed(round(rps))} req/s`);
  else if (rps === null && instances !== 0) effects.push('capacity not measured yet');
  if (dbConnections !== 0) effects.push(`${signed(dbConnections)} connections in total`);
  return Object.freeze({
    currency: cost?.currency ?? null,
    hourly,
    monthly,
    instances,
    rps,
    dbConnections,
    text: `${what.join(', ') || 'no change'}: ${effects.join(', ')}`,
  });
}

/** `+73.00 USD` / `-14.60 USD`. */
export function money(amount: number, currency: string): string {
  const sign = amount < 0 ? '-' : '+';
  return `${sign}${Math.abs(amount).toFixed(2)} ${currency}`;
}

/** A price without a sign: `146.00 USD`. */
export function price(amount: number, currency: string): string {
  return `${amount.toFixed(2)} ${currency}`;
}

function signed(n: number): string {
  return n > 0 ? `+${n}` : String(n);
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

function finite(key: string, value: unknown): number {
  if (value === undefined) return 0;
  if (typeof value !== 'number' || !Number.isFinite(value))
    throw invalidOptionOf('costOf', key, 'must be a finite number', value);
  return value;
}

import type { Keel } from '@keel/core';

type Registry = Keel['registry'];

/** Acquire-wait histogram boundaries, ms (OpenTelemetry's for `db.client.connection.wait_time`, in ms). */
export const WAIT_BOUNDARIES = [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000] as const;

/**
 * What one pool counts. Plain numbers and one typed array, updated on the
 * query path with no allocation; turned into Prometheus text only when scraped.
 */
export class PoolCounters {
  /** Cumulative acquire-wait counts per boundary (`le`), plus +Inf last. */
  readonly waitBuckets = new Float64Array(WAIT_BOUNDARIES.length + 1);
  waitSumMs = 0;
  acquireTimeouts = 0;
  saturations = 0;
  slowQueries = 0;
  deadlineCancels = 0;
  /** Queries the database did not answer by their client-side deadline (cancelled, connection closed). */
  clientTimeouts = 0;
  heldClients = 0;
  dirtyReleases = 0;
  connectionErrors = 0;

  observeWait(ms: number): void {
    this.waitSumMs += ms;
    const b = this.waitBuckets;
    // Cumulative buckets: every boundary at or above the value counts it.
    let i = 0;
    while (i < WAIT_BOUNDARIES.length && ms > WAIT_BOUNDARIES[i]!) i++;
    for (; i < b.length; i++) b[i]!++;
  }
}

/** What the collector reads from each pool at scrape time. */
export interface PoolSource {
  readonly name: string;
  readonly counters: PoolCounters;
  readonly max: number;
  readonly totalCount: number;
  readonly idleCount: number;
  readonly waitingCount: number;
}

type Labels = Record<string, string | number>;
interface Value {
  labels: Labels;
  value: number;
  metricName?: string;
}

/**
 * Names: OpenTelemetry's `db.client.connection.*` family, converted the way
 * Prometheus converts it, except the used/idle gauge. Its current name,
 * `db.client.connection.count`, becomes `db_client_connection_count`, and
 * Prometheus reads a `_count` suffix as part of a histogram or summary
 * (`promtool check metrics` rejects it on a gauge). It keeps the name the
 * conventions gave the same gauge before 1.26, `db.client.connections.usage`.
 * The mapping is in the README; a test runs promtool on them.
 */

/**
 * A metric in the shape prom-client's `Registry` renders (`get()` returning
 * name, help, type and values). Built by hand rather than with prom-client's
 * classes so the query path only bumps numbers: a prom-client `observe` with
 * labels costs hundreds of nanoseconds.
 */
class ScrapedMetric {
  readonly aggregator = 'sum';
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'gauge' | 'counter' | 'histogram',
    readonly read: () => Value[],
  ) {}
  async get() {
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values: this.read(),
    };
  }
  reset(): void {}
}

const collectors = new WeakMap<Registry, Set<PoolSource>>();

/** Registers `pool` for scraping in `registry` (metrics are created once per registry). Returns an unregister function. */
export function registerPoolMetrics(registry: Registry, pool: PoolSource): () => void {
  let pools = collectors.get(registry);
  if (!pools) {
    pools = new Set();
    collectors.set(registry, pools);
    for (const metric of definitions(pools)) registry.registerMetric(metric as never);
  }
  pools.add(pool);
  return () => pools.delete(pool);
}

const POOL = 'db_client_connection_pool_name';

function definitions(pools: Set<PoolSource>): ScrapedMetric[] {
  const each = (f: (p: PoolSource) => Value[]) => () => [...pools].flatMap(f);
  const counter = (name: string, help: string, pick: (c: PoolCounters) => number) =>
    new ScrapedMetric(
      name,
      help,
      'counter',
      each((p) => [{ labels: { [POOL]: p.name }, value: pick(p.counters) }]),
    );
  return [
    new ScrapedMetric(
      'db_client_connections_usage',
      'Connections in the pool, by state (used, idle).',
      'gauge',
      each((p) => [
        { labels: { [POOL]: p.name, db_client_connection_state: 'used' }, value: p.totalCount - p.idleCount },
        { labels: { [POOL]: p.name, db_client_connection_state: 'idle' }, value: p.idleCount },
      ]),
    ),
    new ScrapedMetric(
      'db_client_connection_max',
      'Most connections the pool opens.',
      'gauge',
      each((p) => [{ labels: { [POOL]: p.name }, value: p.max }]),
    ),
    new ScrapedMetric(
      'db_client_connection_pending_requests',
      'Callers waiting for a connection.',
      'gauge',
      each((p) => [{ labels: { [POOL]: p.name }, value: p.waitingCount }]),
    ),
    new ScrapedMetric(
      'db_client_connection_wait_time_seconds',
      'Time to acquire a connection from the pool.',
      'histogram',
      each((p) => {
        const c = p.counters;
        const values: Value[] = WAIT_BOUNDARIES.map((le, i) => ({
          labels: { [POOL]: p.name, le: le / 1000 },
          value: c.waitBuckets[i]!,
          metricName: 'db_client_connection_wait_time_seconds_bucket',
        }));
        const count = c.waitBuckets[WAIT_BOUNDARIES.length]!;
        values.push(
          {
            labels: { [POOL]: p.name, le: '+Inf' },
            value: count,
            metricName: 'db_client_connection_wait_time_seconds_bucket',
          },
          {
            labels: { [POOL]: p.name },
            value: c.waitSumMs / 1000,
            metricName: 'db_client_connection_wait_time_seconds_sum',
          },
          {
            labels: { [POOL]: p.name },
            value: count,
            metricName: 'db_client_connection_wait_time_seconds_count',
          },
        );
        return values;
      }),
    ),
    counter(
      'db_client_connection_timeouts_total',
      'Acquires that gave up waiting for a connection.',
      (c) => c.acquireTimeouts,
    ),
    counter(
      'keel_db_pool_saturation_total',
      'Acquires that waited longer than the saturation threshold.',
      (c) => c.saturations,
    ),
    counter(
      'keel_db_slow_queries_total',
      'Queries at or over the slow-query threshold.',
      (c) => c.slowQueries,
    ),
    counter(
      'keel_db_deadline_cancels_total',
      'Queries PostgreSQL cancelled at the request deadline.',
      (c) => c.deadlineCancels,
    ),
    counter(
      'keel_db_client_timeouts_total',
      'Queries the database did not answer by their client-side deadline: cancelled, connection closed.',
      (c) => c.clientTimeouts,
    ),
    counter(
      'keel_db_held_clients_total',
      'Clients held longer than the threshold without release.',
      (c) => c.heldClients,
    ),
    counter(
      'keel_db_dirty_releases_total',
      'Clients released inside a transaction (rolled back or destroyed).',
      (c) => c.dirtyReleases,
    ),
    counter(
      'keel_db_connection_errors_total',
      'Connection failures: refused, reset, terminated, timed out.',
      (c) => c.connectionErrors,
    ),
  ];
}

// The pool's numbers as the app itself exports them on /metrics (@keel/pg's
// db_client_connection_* and keel_db_* families), summed over its pools.

export interface PoolNumbers {
  /** Sum of `db_client_connection_max` over the app's pools. */
  readonly max: number;
  readonly pools: number;
  /** Acquires measured (the wait histogram's count), waits longer than the saturation threshold, timeouts. */
  readonly acquires: number;
  readonly saturated: number;
  readonly timeouts: number;
  readonly waitSumSeconds: number;
  /** Cumulative acquire counts per `le` bound in seconds, +Inf last. */
  readonly waitBuckets: readonly { readonly le: number; readonly count: number }[];
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/;

/** Sums each wanted series over its labels; `le` buckets are kept apart. Returns `null` without a pool. */
export function poolNumbers(text: string): PoolNumbers | null {
  let max = 0;
  let pools = 0;
  let acquires = 0;
  let saturated = 0;
  let timeouts = 0;
  let waitSumSeconds = 0;
  const buckets = new Map<number, number>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = SAMPLE.exec(line);
    if (!m) continue;
    const [, name, labels = '', raw] = m;
    const value = Number(raw);
    if (!Number.isFinite(value) && raw !== '+Inf') continue;
    switch (name) {
      case 'db_client_connection_max':
        max += value;
        pools++;
        break;
      case 'db_client_connection_wait_time_seconds_count':
        acquires += value;
        break;
      case 'db_client_connection_wait_time_seconds_sum':
        waitSumSeconds += value;
        break;
      case 'db_client_connection_wait_time_seconds_bucket': {
        const le = /le="([^"]+)"/.exec(labels)?.[1];
        if (le === undefined) break;
        const bound = le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le);
        buckets.set(bound, (buckets.get(bound) ?? 0) + value);
        break;
      }
      case 'keel_db_pool_saturation_total':
        saturated += value;
        break;
      case 'db_client_connection_timeouts_total':
        timeouts += value;
        break;
    }
  }
  if (pools === 0) return null;
  const waitBuckets = [...buckets.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([le, count]) => ({ le, count }));
  return { max, pools, acquires, saturated, timeouts, waitSumSeconds, waitBuckets };
}

/** The upper bound of the bucket holding quantile `q`, seconds (as Prometheus would bound it); `null` without data. */
export function bucketQuantile(numbers: PoolNumbers, q: number): number | null {
  if (numbers.acquires === 0) return null;
  const rank = q * numbers.acquires;
  for (const bucket of numbers.waitBuckets) if (bucket.count >= rank) return bucket.le;
  return Number.POSITIVE_INFINITY;
}

import type { CacheStats } from '../cache/cache.js';
import type { GaugeSample, MetricFamily } from './exposition.js';

/**
 * A Keel's caches as metric families. Reads each cache's counters once; with
 * no caches there are none, so an app without caches sees no empty families.
 */
export function cacheMetricFamilies(caches: Iterable<{ stats(): CacheStats }>): MetricFamily[] {
  const stats = Array.from(caches, (cache) => cache.stats());
  if (stats.length === 0) return [];
  const families: MetricFamily[] = [
    {
      name: 'keel_cache_requests_total',
      type: 'counter',
      help: 'Cache reads by result: hit (fresh), stale (served stale while one refresh runs), miss (waited for a load).',
      samples: stats.flatMap((s): GaugeSample[] => [
        [{ cache: s.name, result: 'hit' }, s.hits],
        [{ cache: s.name, result: 'stale' }, s.stale],
        [{ cache: s.name, result: 'miss' }, s.misses],
      ]),
    },
    {
      name: 'keel_cache_loads_total',
      type: 'counter',
      help: 'Cache loader calls by outcome; concurrent misses of one key share one call.',
      samples: stats.flatMap((s): GaugeSample[] => [
        [{ cache: s.name, outcome: 'ok' }, s.loads],
        [{ cache: s.name, outcome: 'error' }, s.loadErrors],
      ]),
    },
    {
      name: 'keel_cache_evictions_total',
      type: 'counter',
      help: 'Cache entries pushed out by the entry or byte bound.',
      samples: stats.map((s): GaugeSample => [{ cache: s.name }, s.evictions]),
    },
    {
      name: 'keel_cache_entries',
      type: 'gauge',
      help: 'Cache entries held, including expired ones not yet dropped.',
      samples: stats.map((s): GaugeSample => [{ cache: s.name }, s.entries]),
    },
  ];
  const sized = stats.filter((s) => s.bytes !== null);
  if (sized.length > 0) {
    families.push({
      name: 'keel_cache_size_bytes',
      type: 'gauge',
      help: 'Estimated bytes held by caches with a byte bound (maxBytes).',
      samples: sized.map((s): GaugeSample => [{ cache: s.name }, s.bytes!]),
    });
  }
  return families;
}

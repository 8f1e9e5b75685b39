import type { CacheStats } from '../cache/cache.js';
import { type GaugeSample, renderMetric } from './exposition.js';

/**
 * Prometheus text for a Keel's caches. Reads each cache's counters once; with
 * no caches it writes nothing, so an app without caches sees no empty families.
 */
export function renderCacheMetrics(caches: Iterable<{ stats(): CacheStats }>): string {
  const stats = Array.from(caches, (cache) => cache.stats());
  if (stats.length === 0) return '';
  let out = renderMetric(
    'keel_cache_requests_total',
    'counter',
    'Cache reads by result: hit (fresh), stale (served stale while one refresh runs), miss (waited for a load).',
    stats.flatMap((s): GaugeSample[] => [
      [{ cache: s.name, result: 'hit' }, s.hits],
      [{ cache: s.name, result: 'stale' }, s.stale],
      [{ cache: s.name, result: 'miss' }, s.misses],
    ]),
  );
  out += renderMetric(
    'keel_cache_loads_total',
    'counter',
    'Cache loader calls by outcome; concurrent misses of one key share one call.',
    stats.flatMap((s): GaugeSample[] => [
      [{ cache: s.name, outcome: 'ok' }, s.loads],
      [{ cache: s.name, outcome: 'error' }, s.loadErrors],
    ]),
  );
  out += renderMetric(
    'keel_cache_evictions_total',
    'counter',
    'Cache entries pushed out by the entry or byte bound.',
    stats.map((s): GaugeSample => [{ cache: s.name }, s.evictions]),
  );
  out += renderMetric(
    'keel_cache_entries',
    'gauge',
    'Cache entries held, including expired ones not yet dropped.',
    stats.map((s): GaugeSample => [{ cache: s.name }, s.entries]),
  );
  const sized = stats.filter((s) => s.bytes !== null);
  if (sized.length > 0) {
    out += renderMetric(
      'keel_cache_size_bytes',
      'gauge',
      'Estimated bytes held by caches with a byte bound (maxBytes).',
      sized.map((s): GaugeSample => [{ cache: s.name }, s.bytes!]),
    );
  }
  return out;
}

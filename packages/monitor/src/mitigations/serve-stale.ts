import type { Keel } from '@keel/core';
import { httpBreached } from './http-breach.js';
import { checkFactoryOptions, type Mitigation } from './mitigation.js';

export interface ServeStaleOptions {
  /** Only these caches (by name). @default every cache of the Keel, response caches included */
  caches?: string[];
  /** How much longer than `ttl + staleWhileRevalidate` entries are served, ms. @default 600000 (10 min) */
  extendMs?: number;
}

/**
 * Serves cached entries past their freshness (one background refresh per key),
 * so users stop waiting on a slow or failing loader. Applicable when an HTTP
 * budget is breached and a cache holds entries.
 */
export function serveStale(options: ServeStaleOptions = {}): Mitigation {
  checkFactoryOptions('serveStale', options, ['caches', 'extendMs']);
  const extendMs = options.extendMs ?? 600_000;
  const pick = (keel: Keel) => keel.caches.filter((c) => !options.caches || options.caches.includes(c.name));
  let applied: ReturnType<typeof pick> = [];
  return {
    name: 'serve-stale',
    description: `serve cached entries up to ${Math.round(extendMs / 1000)} s past freshness`,
    priority: 10,
    unavailable(keel) {
      const caches = pick(keel);
      if (caches.length === 0)
        return options.caches
          ? `none of the caches ${options.caches.join(', ')} exists`
          : 'no cache registered';
      return caches.some((c) => c.size > 0) ? null : 'no cache holds entries';
    },
    applicable: (ctx) => httpBreached(ctx),
    apply(ctx) {
      applied = pick(ctx.keel);
      for (const cache of applied) cache.serveStale(extendMs);
      return `serving stale from ${applied.map((c) => c.name).join(', ')}`;
    },
    rollback() {
      for (const cache of applied) cache.serveStale(false);
      applied = [];
    },
  };
}

import type { RequestContext } from '@keel/core';
import type { QueryResult } from 'pg';
import { type QueryArg, textOf } from './client-state.js';
import type { SlowQueryRecord } from './events.js';
import { isExplainable } from './explain.js';
import { type CachedFingerprint, FingerprintCache } from './fingerprint-cache.js';
import type { Borrow } from './plan-capture.js';
import { PlanCapture } from './plan-capture.js';
import { emitEvent, type PoolHost } from './pool-host.js';

/** Per-fingerprint totals the pool keeps on its cached fingerprints (no extra lookup per query). */
export interface Fingerprinted extends CachedFingerprint {
  /** The first text seen with this shape (with `$n` parameters, no values): what EXPLAIN is run on. */
  readonly sql: string;
  calls: number;
  errors: number;
  totalMs: number;
}

export interface FingerprintStats {
  readonly fingerprint: string;
  readonly operation: string;
  readonly calls: number;
  readonly errors: number;
  readonly totalMs: number;
  readonly meanMs: number;
}

interface SlowEntry extends SlowQueryRecord {
  reportedAt: number;
  suppressed: number;
  planAt: number;
}

/**
 * What the pool learns from each query: its fingerprint's totals, Keel's DB
 * signal, the request's db time (`Server-Timing`), and the slow-query log
 * with its plans. Runs inside pg's callbacks, so it never throws.
 */
export class QueryRecording {
  readonly #pool: PoolHost;
  readonly #fingerprints: FingerprintCache<Fingerprinted>;
  readonly #slow = new Map<string, SlowEntry>();
  readonly plans: PlanCapture;

  constructor(pool: PoolHost, borrow: Borrow) {
    this.#pool = pool;
    this.#fingerprints = new FingerprintCache(
      pool.config.maxFingerprints,
      pool.keel.db.definition.maxLabelLength,
      (fp, sql) => ({ ...fp, sql, calls: 0, errors: 0, totalMs: 0 }),
    );
    this.plans = new PlanCapture(pool, borrow);
  }

  /** The fingerprint of `query` (a `Map` lookup after its first time); throws a `TypeError` for a bad argument. */
  fingerprint(query: QueryArg): Fingerprinted {
    return this.#fingerprints.get(textOf(query));
  }

  /** Records one query that took `ms`, for the request of `context` when there is one. */
  record(
    fp: Fingerprinted,
    ms: number,
    failed: boolean,
    result: QueryResult | undefined,
    context: RequestContext | undefined,
    query: QueryArg,
  ): void {
    const pool = this.#pool;
    try {
      fp.calls++;
      fp.totalMs += ms;
      if (failed) fp.errors++;
      pool.keel.recordQuery(fp.operation, fp.label, ms, !failed);
      if (context !== undefined) {
        context.dbMs += ms;
        context.dbCalls++;
        // Only while the optimiser captures: where this request's time went, per fingerprint.
        const profile = context.profile;
        if (profile !== undefined) profile.query(fp.label, ms);
      }
      const slow = pool.config.slowQuery;
      if (slow !== null && ms >= slow.thresholdMs)
        this.#slowQuery(fp, ms, failed ? null : rowsOf(result), context, textOf(query));
    } catch (internal) {
      // Runs inside pg's callback: a throw here would land in pg, not in the app.
      pool.keel.reportError('pg.record', internal);
    }
  }

  /** The shape labelled `label` (as the DB signal and request profiles name it), if still remembered. */
  shape(label: string): Fingerprinted | undefined {
    return this.#fingerprints.byLabel(label);
  }

  /** Time every query took so far, ms (the pool's busy time, summed over the shapes remembered). */
  totalMs(): number {
    let total = 0;
    for (const f of this.#fingerprints.shapes()) total += f.totalMs;
    return total;
  }

  /** Query shapes seen, most time consumed first. */
  fingerprints(limit: number): FingerprintStats[] {
    return [...this.#fingerprints.shapes()]
      .filter((f) => f.calls > 0)
      .sort((a, b) => b.totalMs - a.totalMs)
      .slice(0, limit)
      .map((f) => ({
        fingerprint: f.text,
        operation: f.operation,
        calls: f.calls,
        errors: f.errors,
        totalMs: f.totalMs,
        meanMs: f.totalMs / f.calls,
      }));
  }

  /** Slow queries seen, one record per fingerprint, slowest first; plans included once captured. */
  slowQueries(): SlowQueryRecord[] {
    return [...this.#slow.values()]
      .sort((a, b) => b.maxMs - a.maxMs)
      .map(({ reportedAt: _r, suppressed: _s, planAt: _p, ...record }) => ({
        ...record,
        routes: [...record.routes],
      }));
  }

  #slowQuery(
    fp: Fingerprinted,
    ms: number,
    rows: number | null,
    context: RequestContext | undefined,
    sql: string,
  ): void {
    const pool = this.#pool;
    const slow = pool.config.slowQuery!;
    pool.counters.slowQueries++;
    const now = pool.keel.config.clock.now();
    let entry = this.#slow.get(fp.label);
    if (!entry) {
      if (this.#slow.size >= slow.keep) this.#slow.delete(this.#slow.keys().next().value!);
      entry = {
        fingerprint: fp.text,
        operation: fp.operation,
        count: 0,
        maxMs: 0,
        lastMs: 0,
        lastRows: null,
        lastAt: now,
        routes: [],
        plan: null,
        reportedAt: Number.NEGATIVE_INFINITY,
        suppressed: 0,
        planAt: Number.NEGATIVE_INFINITY,
      };
      this.#slow.set(fp.label, entry);
    }
    entry.count++;
    entry.maxMs = Math.max(entry.maxMs, ms);
    entry.lastMs = ms;
    entry.lastRows = rows;
    entry.lastAt = now;
    const route = context?.route;
    if (route !== undefined && entry.routes.length < 8 && !entry.routes.includes(route))
      entry.routes.push(route);
    if (now - entry.reportedAt < slow.intervalMs) {
      entry.suppressed++;
      return;
    }
    const suppressed = entry.suppressed;
    entry.reportedAt = now;
    entry.suppressed = 0;
    emitEvent(pool, {
      kind: 'slow-query',
      pool: pool.name,
      route,
      at: now,
      fingerprint: fp.text,
      operation: fp.operation,
      durationMs: ms,
      rows,
      suppressed,
    });
    if (slow.explain && now - entry.planAt >= slow.intervalMs && isExplainable(fp)) {
      entry.planAt = now;
      this.plans.enqueue(entry, sql);
    }
  }
}

function rowsOf(result: QueryResult | QueryResult[] | undefined): number | null {
  if (result === undefined) return null;
  if (Array.isArray(result)) return result.reduce((n, r) => n + (r.rowCount ?? r.rows?.length ?? 0), 0);
  return result.rowCount ?? result.rows?.length ?? null;
}

// The advisor's public types, its thresholds and their defaults.

import { checkKnownKeys, invalidOptionOf } from '@keel/core';
import type { ClientConfig, Pool } from 'pg';
import type { SlowQueryRecord } from '../events.js';

export type Severity = 'critical' | 'warning' | 'info';

export type FindingKind =
  | 'missing-index'
  | 'unused-index'
  | 'duplicate-index'
  | 'redundant-index'
  | 'invalid-index'
  | 'needs-vacuum'
  | 'needs-analyze'
  | 'connections'
  | 'slow-statement'
  | 'setup';

export interface Finding {
  readonly kind: FindingKind;
  readonly severity: Severity;
  /** `schema.table` (or `schema.table.index`) it is about, when it is about one. */
  readonly object: string | null;
  /** One line for a person. */
  readonly message: string;
  /** The statement that fixes it, when there is one (never run by the advisor). */
  readonly fix: string | null;
  /** The numbers behind it. */
  readonly evidence: Readonly<Record<string, string | number | boolean | null>>;
}

export interface StatementStats {
  readonly fingerprint: string;
  readonly calls: number;
  readonly totalMs: number;
  readonly meanMs: number;
  readonly rows: number;
  /** The same shape as measured by this process's pool (joined by fingerprint), if it ran it. */
  readonly inProcess: { readonly calls: number; readonly meanMs: number } | null;
}

export interface AdvisorReport {
  readonly database: string;
  readonly serverVersion: string;
  readonly generatedAt: string;
  readonly connections: { readonly used: number; readonly max: number; readonly ratio: number };
  readonly pgStatStatements: { readonly enabled: boolean; readonly guidance: string | null };
  readonly hypopg: { readonly enabled: boolean; readonly guidance: string | null };
  /** Top statements by total time (pg_stat_statements), when enabled. */
  readonly statements: readonly StatementStats[];
  /** Worst first. */
  readonly findings: readonly Finding[];
}

export interface AdvisorThresholds {
  /** A sequential scan matters on tables with at least this many rows. @default 10000 */
  minTableRows?: number;
  /** ...that keeps at most this share of them (the filter is selective). @default 0.05 */
  maxSelectivity?: number;
  /** With hypopg, a suggested index must cut the plan's estimated cost by at least this share. @default 0.5 */
  minCostReduction?: number;
  /** Dead tuples over this share of a table's tuples need a VACUUM... @default 0.2 */
  deadTupleRatio?: number;
  /** ...when there are at least this many. @default 1000 */
  minDeadTuples?: number;
  /** A table changed by this share of its rows since its last analyze needs an ANALYZE... @default 0.1 */
  modifiedRatio?: number;
  /** ...when it has at least this many rows (or changes, never analyzed). @default 1000 */
  minAnalyzeRows?: number;
  /** Connections in use over this share of `max_connections` is a warning (critical at 0.95). @default 0.8 */
  connectionRatio?: number;
  /** A statement slower than this on average is reported, ms. @default 100 */
  slowStatementMs?: number;
  /** Statements read from pg_stat_statements. @default 20 */
  topStatements?: number;
  /** A statement is judged slow only after this many calls (one-off scripts are not the app). @default 5 */
  minCalls?: number;
}

export interface AdviseOptions {
  /** SQL texts (with `$n` placeholders) checked for missing indexes, beside the top statements and the pool's slow queries. */
  queries?: readonly string[];
  /** An instrumented pool (`createPool`) whose fingerprints and captured plans join the report. */
  pool?: AdvisedPool;
  thresholds?: AdvisorThresholds;
}

/**
 * What the advisor reads from `@keel/pg`'s pool (a `KeelPool` is one): the
 * pg pool it wraps, its fingerprints, its slow queries. Named by shape so
 * the pool can use the advisor's rules without the two importing each other.
 */
export interface AdvisedPool {
  readonly inner: Pool;
  fingerprints(limit?: number): readonly { fingerprint: string; calls: number; meanMs: number }[];
  slowQueries(): readonly SlowQueryRecord[];
}

export type AdvisorTarget = string | ClientConfig | AdvisedPool | Pool;

/** Most severe first. */
export const SEVERITY_RANK: Record<Severity, number> = { critical: 0, warning: 1, info: 2 };

export const ADVISOR_DEFAULTS: Required<AdvisorThresholds> = {
  minTableRows: 10_000,
  maxSelectivity: 0.05,
  minCostReduction: 0.5,
  deadTupleRatio: 0.2,
  minDeadTuples: 1000,
  modifiedRatio: 0.1,
  minAnalyzeRows: 1000,
  connectionRatio: 0.8,
  slowStatementMs: 100,
  topStatements: 20,
  minCalls: 5,
};

/** The names `thresholds` takes, for the option checks of the advisor's users. */
export const THRESHOLD_KEYS: ReadonlySet<string> = new Set(Object.keys(ADVISOR_DEFAULTS));

/** Thresholds that are shares of something: a number in (0, 1]. */
const RATIOS: ReadonlySet<string> = new Set([
  'maxSelectivity',
  'minCostReduction',
  'deadTupleRatio',
  'modifiedRatio',
  'connectionRatio',
]);
/** Thresholds that are counts of statements: a positive integer. */
const COUNTS: ReadonlySet<string> = new Set(['topStatements', 'minCalls']);

/**
 * Checks `thresholds` for `who` (`advise`, `createMaintenance`): known names only,
 * shares in (0, 1], the rest numbers >= 0 — a typo or a percentage given as 5
 * must not quietly keep the default or turn a rule off.
 */
export function checkThresholds(who: string, value: unknown): AdvisorThresholds {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw invalidOptionOf(who, 'thresholds', 'must be an object', value);
  checkKnownKeys(value, THRESHOLD_KEYS, (key, rule, got) =>
    invalidOptionOf(who, `thresholds.${key}`, rule, got),
  );
  const given: Record<string, number> = {};
  for (const [key, v] of Object.entries(value)) {
    // Left out, as if not given: a spread of `{ minTableRows: undefined }` would erase the default.
    if (v === undefined) continue;
    const path = `thresholds.${key}`;
    if (RATIOS.has(key)) {
      if (typeof v !== 'number' || !(v > 0 && v <= 1))
        throw invalidOptionOf(who, path, 'must be a share in (0, 1] (5 % is 0.05)', v);
    } else if (COUNTS.has(key)) {
      if (!Number.isInteger(v) || v <= 0) throw invalidOptionOf(who, path, 'must be a positive integer', v);
    } else if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
      throw invalidOptionOf(who, path, 'must be a number >= 0', v);
    }
    given[key] = v as number;
  }
  return given as AdvisorThresholds;
}

const ADVISE_KEYS: ReadonlySet<string> = new Set(['queries', 'pool', 'thresholds']);

/** Checks `advise`'s options (thresholds left out when undefined); throws `KEEL_INVALID_OPTION` naming the one to change. */
export function checkAdviseOptions(options: unknown): AdviseOptions {
  if (typeof options !== 'object' || options === null || Array.isArray(options))
    throw invalidOptionOf('advise', 'options', 'must be an object', options);
  checkKnownKeys(options, ADVISE_KEYS, (key, rule, got) => invalidOptionOf('advise', key, rule, got));
  const o = options as AdviseOptions;
  if (o.queries !== undefined && (!Array.isArray(o.queries) || o.queries.some((q) => typeof q !== 'string')))
    throw invalidOptionOf('advise', 'queries', 'must be an array of SQL strings', o.queries);
  if (
    o.pool !== undefined &&
    (typeof o.pool !== 'object' || o.pool === null || typeof o.pool.slowQueries !== 'function')
  )
    throw invalidOptionOf('advise', 'pool', 'must be a pool from createPool', o.pool);
  return { ...o, thresholds: checkThresholds('advise', o.thresholds) };
}

// The advisor's public types, its thresholds and their defaults.

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

// What `keel audit` reports: findings with a stable check id, the `--json`
// result that holds them, and its version. schema/audit-result.schema.json
// describes the same shape for readers in other languages; the tests validate
// real output against it.

/** The version of `result` in `keel audit --json`; bumped on any change a reader could trip over. */
export const AUDIT_SCHEMA = 'keel-audit/1';

export type AuditStatus = 'pass' | 'warn' | 'fail';
export type AuditCategory = 'frontend' | 'api' | 'database';
export type AuditUnit = 'bytes' | 'ms' | 'count' | 'ratio' | 'seconds' | 'connections';

/** One check on one target (a page, a route, an asset, a database object). */
export interface AuditFinding {
  /** Stable: `frontend.text-compression`, `api.conditional-get`, `db.missing-index`... */
  readonly check: string;
  readonly category: AuditCategory;
  /** What was checked: a page or route path, an asset URL, `schema.table`, or the database's name. */
  readonly target: string;
  readonly status: AuditStatus;
  /** The measured number, in `unit`; `null` when the check is a yes/no. */
  readonly value: number | null;
  /** The limit `value` was held to, in `unit`; `null` for a yes/no check. */
  readonly threshold: number | null;
  readonly unit: AuditUnit | null;
  /** The measurement in words, e.g. `577 KiB sent uncompressed`. */
  readonly measured: string;
  /** The rule in words, e.g. `gzip or br when asked, for text over 1 KiB`. */
  readonly expected: string;
  /** What fixing it would save, estimated from the measurement (or from Lighthouse's simulation). */
  readonly gain: { readonly bytes: number | null; readonly ms: number | null } | null;
  /** The fix, one sentence; `null` on a pass. */
  readonly fix: string | null;
}

/** One part of the audit and whether it ran. */
export interface AuditPart {
  readonly ran: boolean;
  /** Why it did not run (or ran only in part), for a person. */
  readonly skipped: string | null;
}

export interface AuditedPage {
  readonly path: string;
  readonly url: string;
  /** Lab metrics from Lighthouse (simulated mobile throttling), ms. */
  readonly tti: number | null;
  readonly lcp: number | null;
  readonly totalBytes: number | null;
  /** The heaviest resources the page loaded, by bytes on the wire. */
  readonly largest: readonly { readonly url: string; readonly bytes: number }[];
}

export interface AuditedRoute {
  readonly route: string;
  readonly path: string;
  readonly status: number | null;
  readonly contentType: string | null;
  /** Body bytes without compression. */
  readonly bytes: number | null;
  /** Why its checks were not run (a template path, a non-2xx answer), or `null`. */
  readonly skipped: string | null;
}

/** `result` of `keel audit --json`. */
export interface AuditResult {
  readonly auditSchema: typeof AUDIT_SCHEMA;
  readonly url: string;
  readonly lighthouse: string | null;
  /** The budgets the lab metrics and slow queries were held to, from the config. */
  readonly budgets: { readonly tti: number; readonly lcp: number; readonly dbLatency: number };
  readonly parts: Readonly<Record<AuditCategory, AuditPart>>;
  readonly summary: { readonly pass: number; readonly warn: number; readonly fail: number };
  readonly pages: readonly AuditedPage[];
  readonly routes: readonly AuditedRoute[];
  readonly findings: readonly AuditFinding[];
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${Math.round(bytes)} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}

export function formatMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`;
}

import type { AdvisorReport, Finding } from '@keel/pg';
import { type AuditFinding, type AuditStatus, formatBytes, formatMs } from './finding.js';
import { bucketQuantile, type PoolNumbers } from './pool-metrics.js';

/** Pool sizes past this share of the server's usable connections leave no room for a deploy's surge or an admin. */
export const POOL_HEADROOM = 0.8;
/** Acquires that waited past the pool's saturation threshold: a warning over 1 %, a failure over 5 %. */
export const SATURATION = { warn: 0.01, fail: 0.05 } as const;
/** The p95 acquire wait may take this share of the db_latency budget. */
export const ACQUIRE_SHARE_OF_BUDGET = 0.1;
/** Fewer acquires than this are the start-up's connections, not traffic: too few to judge a p95. */
export const MIN_ACQUIRES = 50;

/** An advisor finding kind as an audit check: its id and how bad it is for a gate. */
const KINDS: Readonly<Record<Finding['kind'], { check: string; status: AuditStatus }>> = {
  'missing-index': { check: 'db.missing-index', status: 'fail' },
  'duplicate-index': { check: 'db.duplicate-index', status: 'fail' },
  'invalid-index': { check: 'db.invalid-index', status: 'fail' },
  // Scan counts start at the last statistics reset: a young server's "unused" may be a monthly report's.
  'unused-index': { check: 'db.unused-index', status: 'warn' },
  'redundant-index': { check: 'db.redundant-index', status: 'warn' },
  'slow-statement': { check: 'db.slow-query', status: 'fail' },
  'needs-vacuum': { check: 'db.vacuum', status: 'warn' },
  'needs-analyze': { check: 'db.analyze', status: 'warn' },
  connections: { check: 'db.connections-in-use', status: 'warn' },
  setup: { check: 'db.slow-query', status: 'warn' },
};

/** What each check says when the advisor found nothing for it. */
const CLEAN: readonly { check: string; expected: string }[] = [
  {
    check: 'db.missing-index',
    expected: 'no selective sequential scan of a large table in the top statements',
  },
  { check: 'db.unused-index', expected: 'every index scanned since statistics were reset' },
  { check: 'db.duplicate-index', expected: 'no two indexes with the same definition' },
  { check: 'db.redundant-index', expected: 'no index that is a prefix of another' },
  { check: 'db.invalid-index', expected: 'no invalid index' },
  { check: 'db.slow-query', expected: 'mean time per statement within the db_latency budget' },
  { check: 'db.vacuum', expected: 'dead tuples under 20 % of each table' },
  { check: 'db.analyze', expected: 'statistics refreshed after 10 % of a table changed' },
  { check: 'db.connections-in-use', expected: 'connections in use under 80 % of max_connections' },
];

function num(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** One advisor finding as an audit finding, with its numbers, threshold and estimated gain. */
function fromAdvisor(f: Finding, report: AdvisorReport, dbBudgetMs: number): AuditFinding {
  const kind = KINDS[f.kind];
  const target = f.object ?? report.database;
  const e = f.evidence;
  const base = {
    check: kind.check,
    category: 'database' as const,
    target,
    status: f.kind === 'connections' && f.severity === 'critical' ? ('fail' as const) : kind.status,
    measured: f.message,
    fix: f.fix ?? f.message,
  };
  switch (f.kind) {
    case 'slow-statement': {
      const mean = num(e.meanMs) ?? 0;
      return {
        ...base,
        value: mean,
        threshold: dbBudgetMs,
        unit: 'ms',
        expected: `mean ≤ ${formatMs(dbBudgetMs)} (db_latency budget)`,
        gain: { bytes: null, ms: Math.round((mean - dbBudgetMs) * 10) / 10 },
        fix: 'Find the plan (EXPLAIN ANALYZE) of this statement: an index for its filter, fewer rows, or a cache in front of it.',
      };
    }
    case 'missing-index': {
      // A measured mean, cut by the planner's estimate of the index's effect (hypopg), when both are known.
      const statement = report.statements.find((s) => f.message.endsWith(s.fingerprint));
      const before = num(e.costBefore);
      const after = num(e.costAfter);
      const gainMs =
        statement && before && after !== null
          ? Math.round(statement.meanMs * (1 - after / before) * 100) / 100
          : null;
      return {
        ...base,
        value: num(e.tableRows),
        threshold: null,
        unit: 'count',
        expected: 'no selective sequential scan of a large table in the top statements',
        gain: gainMs === null ? null : { bytes: null, ms: gainMs },
      };
    }
    case 'unused-index':
    case 'duplicate-index':
    case 'redundant-index':
    case 'invalid-index':
      return {
        ...base,
        value: num(e.bytes),
        threshold: null,
        unit: 'bytes',
        expected: CLEAN.find((c) => c.check === kind.check)!.expected,
        // What dropping it frees on disk; every write also stops paying to maintain it.
        gain: { bytes: num(e.bytes), ms: null },
        measured: `${f.message}${num(e.bytes) !== null ? ` (${formatBytes(num(e.bytes)!)})` : ''}`,
      };
    case 'needs-vacuum':
      return {
        ...base,
        value: num(e.deadRatio),
        threshold: 0.2,
        unit: 'ratio',
        expected: 'dead tuples under 20 % of each table',
        gain: null,
      };
    case 'needs-analyze':
      return {
        ...base,
        value: num(e.modified),
        threshold: null,
        unit: 'count',
        expected: CLEAN[7]!.expected,
        gain: null,
      };
    case 'connections':
      return {
        ...base,
        value: num(e.used),
        threshold: num(e.max),
        unit: 'connections',
        expected: CLEAN[8]!.expected,
        gain: null,
      };
    default:
      return {
        ...base,
        value: null,
        threshold: null,
        unit: null,
        expected: 'pg_stat_statements enabled',
        gain: null,
      };
  }
}

/** The advisor's report as audit findings: one per problem, and a pass for each check with none. */
export function advisorFindings(report: AdvisorReport, dbBudgetMs: number): AuditFinding[] {
  const findings = report.findings.map((f) => fromAdvisor(f, report, dbBudgetMs));
  for (const clean of CLEAN) {
    if (findings.some((f) => f.check === clean.check)) continue;
    findings.push({
      check: clean.check,
      category: 'database',
      target: report.database,
      status: 'pass',
      value: 0,
      threshold: 0,
      unit: 'count',
      measured: 'none found',
      expected: clean.expected,
      gain: null,
      fix: null,
    });
  }
  return findings;
}

/** Pool max × instances against what the server accepts. */
export function poolSizeFinding(
  pool: PoolNumbers,
  instances: { count: number; source: string },
  report: AdvisorReport,
): AuditFinding {
  const total = pool.max * instances.count;
  const usable = report.connections.max;
  const status: AuditStatus = total > usable ? 'fail' : total > usable * POOL_HEADROOM ? 'warn' : 'pass';
  return {
    check: 'db.pool-size',
    category: 'database',
    target: report.database,
    status,
    value: total,
    threshold: Math.floor(usable * POOL_HEADROOM),
    unit: 'connections',
    measured: `pool max ${pool.max} × ${instances.count} instance${instances.count === 1 ? '' : 's'} (${instances.source}) = ${total} of ${usable} usable`,
    expected: `≤ ${Math.round(POOL_HEADROOM * 100)} % of max_connections less the superuser reserve`,
    gain: null,
    fix:
      status === 'pass'
        ? null
        : 'Lower the pool max per instance, or put a pooler (PgBouncer in transaction mode) between the app and PostgreSQL.',
  };
}

/** Saturation and acquire wait, as the app's pool measured them since it started. */
export function poolPressureFindings(pool: PoolNumbers, dbBudgetMs: number, target: string): AuditFinding[] {
  const share = pool.acquires > 0 ? pool.saturated / pool.acquires : 0;
  const saturationStatus: AuditStatus =
    pool.timeouts > 0 || share > SATURATION.fail ? 'fail' : share > SATURATION.warn ? 'warn' : 'pass';
  const p95 = bucketQuantile(pool, 0.95);
  const limitMs = dbBudgetMs * ACQUIRE_SHARE_OF_BUDGET;
  const p95Ms = p95 === null ? null : p95 * 1000;
  const enough = pool.acquires >= MIN_ACQUIRES;
  const waitStatus: AuditStatus = p95Ms === null || !enough ? 'warn' : p95Ms <= limitMs ? 'pass' : 'fail';
  return [
    {
      check: 'db.pool-saturation',
      category: 'database',
      target,
      status: saturationStatus,
      value: Math.round(share * 10_000) / 10_000,
      threshold: SATURATION.warn,
      unit: 'ratio',
      measured: `${pool.saturated} of ${pool.acquires} acquires waited past the saturation threshold, ${pool.timeouts} timed out`,
      expected: `≤ ${SATURATION.warn * 100} % saturated, no acquire timeout`,
      gain: null,
      fix:
        saturationStatus === 'pass'
          ? null
          : 'Shorten what holds a connection (no network calls inside a transaction) or raise the pool max within the server limit.',
    },
    {
      check: 'db.acquire-wait',
      category: 'database',
      target,
      status: waitStatus,
      value: p95Ms,
      threshold: limitMs,
      unit: 'ms',
      measured:
        p95Ms === null
          ? 'the pool has not been used yet: nothing measured'
          : !enough
            ? `${pool.acquires} acquires so far, too few to judge (${MIN_ACQUIRES} needed): p95 ≤ ${formatMs(p95Ms)}`
            : `p95 acquire wait ≤ ${formatMs(p95Ms)} over ${pool.acquires} acquires (mean ${formatMs((pool.waitSumSeconds / Math.max(pool.acquires, 1)) * 1000)})`,
      expected: `p95 ≤ ${formatMs(limitMs)} (${ACQUIRE_SHARE_OF_BUDGET * 100} % of the db_latency budget)`,
      gain:
        waitStatus === 'fail' && p95Ms !== null && Number.isFinite(p95Ms)
          ? { bytes: null, ms: p95Ms - limitMs }
          : null,
      fix:
        waitStatus === 'fail'
          ? 'Requests wait for a connection: if new connections are the wait, keep idle ones open longer (idleTimeoutMillis); else hold connections for less time or raise the pool max.'
          : waitStatus === 'warn'
            ? `Audit again after the app has served traffic (${MIN_ACQUIRES} or more pool acquires).`
            : null,
    },
  ];
}

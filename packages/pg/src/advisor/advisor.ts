import { KeelError, KeelErrorCode } from '@keel/core';
import pg, { type ClientConfig, type Pool } from 'pg';
import {
  DML_OPERATIONS,
  explainGeneric,
  isExplainable,
  type PlanNode,
  type PlanSummary,
  type RunSql,
} from '../explain.js';
import { fingerprint } from '../fingerprint.js';
import { isPool, type KeelPool } from '../pool.js';
import { EXTENSIONS_SQL, INDEXES_SQL, SERVER_SQL, statementsSql, TABLE_SQL, TABLES_SQL } from './queries.js';

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
  /** An instrumented pool whose fingerprints and captured plans join the report. */
  pool?: KeelPool;
  thresholds?: AdvisorThresholds;
}

export type AdvisorTarget = string | ClientConfig | KeelPool | Pool;

/** Most severe first. */
export const SEVERITY_RANK: Record<Severity, number> = { critical: 0, warning: 1, info: 2 };

const DEFAULTS: Required<AdvisorThresholds> = {
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
export const THRESHOLD_KEYS: ReadonlySet<string> = new Set(Object.keys(DEFAULTS));

function clientConfig(target: AdvisorTarget): ClientConfig {
  if (typeof target === 'string') return { connectionString: target };
  if (typeof (target as KeelPool).inner === 'object' && (target as KeelPool).inner !== null)
    return { ...(target as KeelPool).inner.options };
  if (isPool(target)) return { ...target.options };
  return target as ClientConfig;
}

export const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;
const qualified = (schema: string, name: string) =>
  `${schema === 'public' ? '' : `${quoteIdent(schema)}.`}${quoteIdentIfNeeded(name)}`;

/**
 * Looks at a database the way the seed's checklist does: slow statements
 * (pg_stat_statements), missing indexes (from generic plans, confirmed with
 * hypopg when it is installed), unused, duplicate, redundant and invalid
 * indexes, tables needing VACUUM or ANALYZE, and connections in use. Reads
 * only: it suggests statements, it never runs them. Uses one connection of
 * its own; hypothetical indexes live only in that session.
 */
export async function advise(target: AdvisorTarget, options: AdviseOptions = {}): Promise<AdvisorReport> {
  const t = { ...DEFAULTS, ...options.thresholds };
  const client = new pg.Client({ connectionTimeoutMillis: 10_000, ...clientConfig(target) });
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (error) {
    throw new KeelError(
      KeelErrorCode.DatabaseUnavailable,
      `advise: cannot connect to PostgreSQL: ${(error as Error).message}`,
      { cause: error },
    );
  }
  try {
    // The advisor's own catalog queries stay out of pg_stat_statements (superusers only; else ignored).
    await client.query('SET pg_stat_statements.track = none').catch(() => {});
    // A table locked by a migration must not hang the advisor (index sizes need a lock).
    await client.query("SET lock_timeout = '5s'; SET statement_timeout = '60s'");
    const run: RunSql = (sql) => client.query(sql);
    const findings: Finding[] = [];
    const server = (await client.query(SERVER_SQL)).rows[0] as {
      database: string;
      version: string;
      preload: string;
      max_connections: number;
      reserved_connections: number;
      connections: number;
      stats_reset: Date | null;
    };
    const extensions = new Map(
      (await client.query(EXTENSIONS_SQL)).rows.map((r) => [
        r.name as string,
        { installed: r.installed !== null, schema: r.schema as string | null },
      ]),
    );

    // ---- pg_stat_statements ----
    const pss = extensions.get('pg_stat_statements');
    const preloaded = server.preload
      .split(',')
      .map((s) => s.trim())
      .includes('pg_stat_statements');
    let pssGuidance: string | null = null;
    if (!pss) {
      pssGuidance =
        "pg_stat_statements is not available on this server: install PostgreSQL's contrib modules, add it to shared_preload_libraries, restart, then CREATE EXTENSION pg_stat_statements.";
    } else if (!preloaded) {
      pssGuidance =
        `pg_stat_statements is not loaded. Add it to shared_preload_libraries (ALTER SYSTEM SET shared_preload_libraries = '${[server.preload, 'pg_stat_statements'].filter(Boolean).join(', ')}'), ` +
        `restart PostgreSQL (a reload is not enough), then run CREATE EXTENSION pg_stat_statements; in database ${server.database}.`;
    } else if (!pss.installed) {
      pssGuidance = `pg_stat_statements is loaded but not created in database ${server.database}: run CREATE EXTENSION pg_stat_statements;`;
    }
    const statements: StatementStats[] = [];
    const candidates = new Set<string>(options.queries ?? []);
    if (pssGuidance === null) {
      const inProcess = new Map(
        (options.pool?.fingerprints(1000) ?? []).map((f) => [
          f.fingerprint,
          { calls: f.calls, meanMs: f.meanMs },
        ]),
      );
      // Read more than shown: utility statements among them are skipped.
      const rows = (await client.query(statementsSql(quoteIdent(pss!.schema!)), [t.topStatements * 3])).rows;
      for (const r of rows) {
        if (statements.length >= t.topStatements) break;
        const parsed = fingerprint(r.query as string);
        // Migrations, SETs and other utility statements are not the app's queries.
        if (!DML_OPERATIONS.has(parsed.operation)) continue;
        const fp = parsed.text;
        const stats: StatementStats = {
          fingerprint: fp,
          calls: r.calls,
          totalMs: round(r.total_ms),
          meanMs: round(r.mean_ms),
          rows: r.rows,
          inProcess: inProcess.get(fp) ?? null,
        };
        statements.push(stats);
        if (isExplainable(parsed)) candidates.add(r.query);
        if (stats.meanMs >= t.slowStatementMs && stats.calls >= t.minCalls) {
          findings.push({
            kind: 'slow-statement',
            severity: 'warning',
            object: null,
            message: `${stats.meanMs.toFixed(1)} ms on average over ${stats.calls} calls: ${fp}`,
            fix: null,
            evidence: { calls: stats.calls, meanMs: stats.meanMs, totalMs: stats.totalMs },
          });
        }
      }
    } else {
      findings.push({
        kind: 'setup',
        severity: 'info',
        object: null,
        message: pssGuidance,
        fix: preloaded && pss ? 'CREATE EXTENSION pg_stat_statements;' : null,
        evidence: { shared_preload_libraries: server.preload },
      });
    }

    // ---- hypopg ----
    const hypo = extensions.get('hypopg');
    const hypopg = hypo?.installed === true;
    const hypoGuidance = hypopg
      ? null
      : hypo
        ? `hypopg is available but not created in database ${server.database}: CREATE EXTENSION hypopg; lets the advisor confirm index suggestions.`
        : 'hypopg is not installed (Debian: postgresql-<version>-hypopg); index suggestions are not confirmed by a hypothetical index.';

    // ---- indexes ----
    const indexes = (await client.query(INDEXES_SQL)).rows as IndexRow[];
    findings.push(...indexFindings(indexes, server.stats_reset));

    // ---- missing indexes, from plans ----
    const plans: { sql: string | null; fingerprint: string; plan: PlanSummary }[] = [];
    for (const record of options.pool?.slowQueries() ?? [])
      if (record.plan) plans.push({ sql: null, fingerprint: record.fingerprint, plan: record.plan });
    for (const sql of candidates) {
      const fp = fingerprint(sql);
      if (!isExplainable(fp)) continue;
      try {
        plans.push({ sql, fingerprint: fp.text, plan: await explainGeneric(run, sql) });
      } catch {
        // A statement that cannot be prepared alone (untyped parameters, temp tables) is skipped.
        await client.query('DEALLOCATE ALL').catch(() => {});
        await client.query('RESET plan_cache_mode').catch(() => {});
      }
    }
    findings.push(...(await missingIndexes(client, run, plans, indexes, hypopg, t)));

    // ---- maintenance ----
    const tables = (await client.query(TABLES_SQL)).rows as TableRow[];
    findings.push(...maintenanceFindings(tables, t));

    // ---- connections ----
    const usable = server.max_connections - server.reserved_connections;
    const ratio = usable > 0 ? server.connections / usable : 1;
    if (ratio >= t.connectionRatio) {
      findings.push({
        kind: 'connections',
        severity: ratio >= 0.95 ? 'critical' : 'warning',
        object: null,
        message: `${server.connections} of ${usable} usable connections in use (${Math.round(ratio * 100)} %): pool sizes across instances add up past the server's limit; lower pool max or add a connection pooler.`,
        fix: null,
        evidence: { used: server.connections, max: usable },
      });
    }

    findings.sort((a, b) => SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity]);
    return {
      database: server.database,
      serverVersion: server.version,
      generatedAt: new Date().toISOString(),
      connections: { used: server.connections, max: usable, ratio: round(ratio) },
      pgStatStatements: { enabled: pssGuidance === null, guidance: pssGuidance },
      hypopg: { enabled: hypopg, guidance: hypoGuidance },
      statements,
      findings,
    };
  } finally {
    await client.end().catch(() => {});
  }
}

interface IndexRow {
  schema: string;
  table: string;
  index: string;
  unique: boolean;
  primary: boolean;
  valid: boolean;
  method: string;
  keys: string;
  classes: string;
  collations: string;
  expressions: string;
  predicate: string;
  constraint: boolean;
  scans: number;
  bytes: number;
  definition: string;
  columns: string[];
}

function indexFindings(indexes: IndexRow[], statsReset: Date | null): Finding[] {
  const findings: Finding[] = [];
  const since = statsReset ? ` since statistics were reset (${statsReset.toISOString()})` : '';
  for (const ix of indexes) {
    const name = `${ix.schema}.${ix.table}.${ix.index}`;
    if (!ix.valid) {
      findings.push({
        kind: 'invalid-index',
        severity: 'critical',
        object: name,
        message: `index ${ix.index} on ${ix.schema}.${ix.table} is invalid (a failed CREATE INDEX CONCURRENTLY): writes still maintain it, no query can use it.`,
        fix: `DROP INDEX CONCURRENTLY ${qualified(ix.schema, ix.index)}; -- then create it again`,
        evidence: { bytes: ix.bytes },
      });
      continue;
    }
    if (ix.scans === 0 && !ix.unique && !ix.primary && !ix.constraint) {
      findings.push({
        kind: 'unused-index',
        severity: 'info',
        object: name,
        message: `index ${ix.index} on ${ix.schema}.${ix.table} has never been scanned${since} (${formatBytes(ix.bytes)}); every write still pays for it.`,
        fix: `DROP INDEX CONCURRENTLY ${qualified(ix.schema, ix.index)};`,
        evidence: { scans: 0, bytes: ix.bytes },
      });
    }
  }
  // Duplicates: same table, same keys, operator classes, collations, expressions and predicate.
  const groups = new Map<string, IndexRow[]>();
  for (const ix of indexes) {
    if (!ix.valid) continue;
    const key = [
      ix.schema,
      ix.table,
      ix.method,
      ix.keys,
      ix.classes,
      ix.collations,
      ix.expressions,
      ix.predicate,
    ].join('\u0000');
    groups.set(key, [...(groups.get(key) ?? []), ix]);
  }
  const duplicated = new Set<IndexRow>();
  for (const group of groups.values()) {
    if (group.length < 2) continue;
    // Keep the one a constraint needs (or the first); the others are pure cost.
    const keep =
      group.find((ix) => ix.primary || ix.constraint) ?? group.find((ix) => ix.unique) ?? group[0]!;
    for (const ix of group) {
      if (ix === keep || ix.constraint) continue;
      duplicated.add(ix);
      findings.push({
        kind: 'duplicate-index',
        severity: 'warning',
        object: `${ix.schema}.${ix.table}.${ix.index}`,
        message: `index ${ix.index} duplicates ${keep.index} on ${ix.schema}.${ix.table} (${ix.columns.join(', ')}).`,
        fix: `DROP INDEX CONCURRENTLY ${qualified(ix.schema, ix.index)};`,
        evidence: { duplicateOf: keep.index, bytes: ix.bytes },
      });
    }
  }
  // Redundant: a plain b-tree whose columns lead a wider b-tree on the same table.
  for (const ix of indexes) {
    if (duplicated.has(ix) || !ix.valid || ix.unique || ix.constraint || ix.method !== 'btree') continue;
    if (ix.expressions || ix.predicate) continue;
    const keys = ix.keys.split(' ');
    const classes = ix.classes.split(' ');
    const wider = indexes.find(
      (o) =>
        o !== ix &&
        o.valid &&
        o.method === 'btree' &&
        o.schema === ix.schema &&
        o.table === ix.table &&
        !o.predicate &&
        !o.expressions &&
        o.keys.split(' ').length > keys.length &&
        keys.every((k, i) => o.keys.split(' ')[i] === k && o.classes.split(' ')[i] === classes[i]),
    );
    if (wider) {
      findings.push({
        kind: 'redundant-index',
        severity: 'warning',
        object: `${ix.schema}.${ix.table}.${ix.index}`,
        message: `index ${ix.index} (${ix.columns.join(', ')}) is a prefix of ${wider.index} (${wider.columns.join(', ')}) on ${ix.schema}.${ix.table}; the wider one serves its queries.`,
        fix: `DROP INDEX CONCURRENTLY ${qualified(ix.schema, ix.index)};`,
        evidence: { coveredBy: wider.index, bytes: ix.bytes },
      });
    }
  }
  return findings;
}

/** Columns of `table` a scan filter compares, equality first (they lead a b-tree best), at most three. */
export function filterColumns(filter: string, columns: readonly string[]): string[] {
  const known = new Set(columns);
  const equality: string[] = [];
  const other: string[] = [];
  const re =
    /("(?:[^"]|"")+"|[a-z_][a-z0-9_$]*)(?:\)?(?:::[a-z ]+(?:\[\])?)?\)?)\s*(=|<>|!=|<=|>=|<|>|~~\*?|!~~|IS|ANY|@>|<@)?/gi;
  for (const m of filter.matchAll(re)) {
    const raw = m[1]!;
    const after = filter.slice(m.index! + raw.length);
    if (after.startsWith('(')) continue; // a function name
    if (filter[m.index! - 1] === '.') continue; // a field of something else
    const name = raw.startsWith('"') ? raw.slice(1, -1).replace(/""/g, '"') : raw;
    if (!known.has(name) || equality.includes(name) || other.includes(name)) continue;
    (m[2] === '=' ? equality : other).push(name);
  }
  // Only one range column helps a b-tree after the equalities.
  return [...equality, ...other.slice(0, 1)].slice(0, 3);
}

async function missingIndexes(
  client: pg.Client,
  run: RunSql,
  plans: { sql: string | null; fingerprint: string; plan: PlanSummary }[],
  indexes: IndexRow[],
  hypopg: boolean,
  t: Required<AdvisorThresholds>,
): Promise<Finding[]> {
  const findings: Finding[] = [];
  const seen = new Set<string>();
  const tables = new Map<string, { rows: number; columns: string[] } | null>();
  for (const { sql, fingerprint: fp, plan } of plans) {
    for (const node of plan.nodes) {
      const candidate = await judgeScan(client, node, tables, t);
      if (!candidate) continue;
      const { schema, table, columns, rows } = candidate;
      const key = `${schema}.${table}(${columns.join(',')})`;
      if (seen.has(key)) continue;
      // An index already leading with the first column: the planner had its reasons.
      if (
        indexes.some(
          (ix) => ix.valid && ix.schema === schema && ix.table === table && ix.columns[0] === columns[0],
        )
      )
        continue;
      seen.add(key);
      const target = qualified(schema, table);
      const name = `${table}_${columns.join('_')}_idx`.slice(0, 63);
      const evidence: Record<string, string | number | boolean | null> = {
        tableRows: Math.round(rows),
        expectedRows: Math.round(node.planRows),
        selectivity: round(node.planRows / rows),
        costBefore: plan.totalCost,
        costAfter: null,
        confirmedByHypopg: false,
      };
      if (hypopg && sql !== null) {
        const after = await withHypotheticalIndex(
          run,
          `CREATE INDEX ON ${target} (${columns.map(quoteIdentIfNeeded).join(', ')})`,
          sql,
        );
        if (after === null) continue;
        evidence.costAfter = after;
        if (after > plan.totalCost * (1 - t.minCostReduction)) continue; // not worth it, per the planner
        evidence.confirmedByHypopg = true;
      }
      findings.push({
        kind: 'missing-index',
        severity: 'warning',
        object: `${schema}.${table}`,
        message: `sequential scan of ${schema}.${table} (${Math.round(rows)} rows) keeps ~${Math.round(node.planRows)} rows on ${columns.join(', ')}${evidence.confirmedByHypopg ? `; a hypothetical index cuts the estimated cost from ${plan.totalCost} to ${evidence.costAfter}` : ''}: ${fp}`,
        fix: `CREATE INDEX CONCURRENTLY ${quoteIdentIfNeeded(name)} ON ${target} (${columns.map(quoteIdentIfNeeded).join(', ')});`,
        evidence,
      });
    }
  }
  return findings;
}

function quoteIdentIfNeeded(name: string): string {
  return /^[a-z_][a-z0-9_]*$/.test(name) ? name : quoteIdent(name);
}

async function judgeScan(
  client: pg.Client,
  node: PlanNode,
  tables: Map<string, { rows: number; columns: string[] } | null>,
  t: Required<AdvisorThresholds>,
): Promise<{ schema: string; table: string; columns: string[]; rows: number } | null> {
  if (node.nodeType !== 'Seq Scan' || !node.relation || !node.filter) return null;
  const schema = node.schema ?? 'public';
  const key = `${schema}.${node.relation}`;
  if (!tables.has(key)) {
    const row = (await client.query(TABLE_SQL, [schema, node.relation])).rows[0] as
      | { rows: number; columns: string[] }
      | undefined;
    tables.set(key, row ?? null);
  }
  const info = tables.get(key);
  if (!info || info.rows < t.minTableRows) return null;
  if (node.planRows / info.rows > t.maxSelectivity) return null;
  const columns = filterColumns(node.filter, info.columns);
  if (columns.length === 0) return null;
  return { schema, table: node.relation, columns, rows: info.rows };
}

/** The plan cost of `sql` with one more (hypothetical, session-only) index; `null` if hypopg refused. */
async function withHypotheticalIndex(run: RunSql, createIndex: string, sql: string): Promise<number | null> {
  try {
    await run(`SELECT * FROM hypopg_create_index('${createIndex.replace(/'/g, "''")}')`);
    return (await explainGeneric(run, sql)).totalCost;
  } catch {
    return null;
  } finally {
    await run('SELECT hypopg_reset()').catch(() => {});
  }
}

interface TableRow {
  schema: string;
  table: string;
  live: number;
  dead: number;
  modified: number;
  vacuumed: Date | null;
  analyzed: Date | null;
}

/** What `ANALYZE`/`VACUUM` a table needs by the thresholds; shared with the maintenance runner. */
export function maintenanceNeeds(
  row: Pick<TableRow, 'live' | 'dead' | 'modified' | 'analyzed'>,
  thresholds: AdvisorThresholds = {},
): { vacuum: boolean; analyze: boolean; deadRatio: number } {
  const t = { ...DEFAULTS, ...thresholds };
  const deadRatio = row.live + row.dead > 0 ? row.dead / (row.live + row.dead) : 0;
  const vacuum = row.dead >= t.minDeadTuples && deadRatio >= t.deadTupleRatio;
  const analyze =
    row.analyzed === null
      ? row.live + row.modified >= t.minAnalyzeRows
      : row.modified >= t.minAnalyzeRows && row.modified >= t.modifiedRatio * Math.max(row.live, 1);
  return { vacuum, analyze, deadRatio };
}

function maintenanceFindings(tables: TableRow[], t: Required<AdvisorThresholds>): Finding[] {
  const findings: Finding[] = [];
  for (const row of tables) {
    const { vacuum, analyze, deadRatio } = maintenanceNeeds(row, t);
    const target = qualified(row.schema, row.table);
    const object = `${row.schema}.${row.table}`;
    if (vacuum) {
      findings.push({
        kind: 'needs-vacuum',
        severity: 'warning',
        object,
        message: `${object} has ${row.dead} dead tuples (${Math.round(deadRatio * 100)} % of its tuples)${row.vacuumed ? `; last vacuumed ${row.vacuumed.toISOString()}` : '; never vacuumed'}.`,
        fix: `VACUUM (ANALYZE) ${target};`,
        evidence: { dead: row.dead, live: row.live, deadRatio: round(deadRatio) },
      });
    } else if (analyze) {
      findings.push({
        kind: 'needs-analyze',
        severity: 'warning',
        object,
        message: row.analyzed
          ? `${object} changed ${row.modified} rows since its last analyze (${row.analyzed.toISOString()}); the planner works from stale statistics.`
          : `${object} (${row.live} rows) has never been analyzed; the planner is guessing its statistics.`,
        fix: `ANALYZE ${target};`,
        evidence: { live: row.live, modified: row.modified, analyzed: row.analyzed?.toISOString() ?? null },
      });
    }
  }
  return findings;
}

export type { TableRow as MaintenanceTableRow };
export { TABLES_SQL as MAINTENANCE_TABLES_SQL };

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
}

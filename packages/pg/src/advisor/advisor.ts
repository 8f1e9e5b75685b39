import { KeelError, KeelErrorCode } from '@keel/core';
import pg, { type ClientConfig } from 'pg';
import {
  DML_OPERATIONS,
  explainedSqlOf,
  explainGeneric,
  isExplainable,
  type PlanSummary,
  type RunSql,
} from '../explain.js';
import { fingerprint } from '../fingerprint.js';
import { isPool } from '../options.js';
import {
  ADVISOR_DEFAULTS,
  type AdvisedPool,
  type AdviseOptions,
  type AdvisorReport,
  type AdvisorTarget,
  checkAdviseOptions,
  type Finding,
  SEVERITY_RANK,
  type StatementStats,
} from './advisor-options.js';
import { type IndexRow, indexFindings, missingIndexes } from './index-findings.js';
import { maintenanceFindings, type TableRow } from './maintenance-needs.js';
import { EXTENSIONS_SQL, INDEXES_SQL, SERVER_SQL, statementsSql, TABLES_SQL } from './queries.js';
import { quoteIdent, round } from './sql-text.js';

export type {
  AdvisedPool,
  AdviseOptions,
  AdvisorReport,
  AdvisorTarget,
  AdvisorThresholds,
  Finding,
  FindingKind,
  Severity,
  StatementStats,
} from './advisor-options.js';

function clientConfig(target: AdvisorTarget): ClientConfig {
  if (typeof target === 'string') return { connectionString: target };
  if (typeof (target as AdvisedPool).inner === 'object' && (target as AdvisedPool).inner !== null)
    return { ...(target as AdvisedPool).inner.options };
  if (isPool(target)) return { ...target.options };
  return target as ClientConfig;
}

/**
 * Looks at a database the way the seed's checklist does: slow statements
 * (pg_stat_statements), missing indexes (from generic plans, confirmed with
 * hypopg when it is installed), unused, duplicate, redundant and invalid
 * indexes, tables needing VACUUM or ANALYZE, and connections in use. Reads
 * only: it suggests statements, it never runs them. Uses one connection of
 * its own; hypothetical indexes live only in that session.
 */
export async function advise(target: AdvisorTarget, given: AdviseOptions = {}): Promise<AdvisorReport> {
  const options = checkAdviseOptions(given);
  const t = { ...ADVISOR_DEFAULTS, ...options.thresholds };
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
    // Its text (from the process, never from the record) lets hypopg confirm the suggestion.
    for (const record of options.pool?.slowQueries() ?? [])
      if (record.plan)
        plans.push({ sql: explainedSqlOf(record.plan), fingerprint: record.fingerprint, plan: record.plan });
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

// The advisor's index findings: unused, duplicate, redundant and invalid
// indexes from the catalog, and missing ones from generic plans (confirmed
// with hypopg when it is installed).

import type pg from 'pg';
import { explainGeneric, type PlanNode, type PlanSummary, type RunSql } from '../explain.js';
import type { AdvisorThresholds, Finding } from './advisor-options.js';
import { TABLE_SQL } from './queries.js';
import { formatBytes, qualified, quoteIdentIfNeeded, round } from './sql-text.js';

export interface IndexRow {
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

export function indexFindings(indexes: IndexRow[], statsReset: Date | null): Finding[] {
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

export async function missingIndexes(
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
        columns: columns.join(', '),
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

import type { Fingerprint } from './fingerprint.js';

/** One node of a plan, flattened; conditions with every value replaced (`$n` or `?`). */
export interface PlanNode {
  readonly nodeType: string;
  readonly schema: string | undefined;
  readonly relation: string | undefined;
  readonly index: string | undefined;
  /** `Filter` of a scan, e.g. `(email = $1)`. */
  readonly filter: string | undefined;
  readonly indexCond: string | undefined;
  /** Rows the planner expects this node to return. */
  readonly planRows: number;
  readonly totalCost: number;
}

export interface PlanSummary {
  readonly totalCost: number;
  readonly nodes: readonly PlanNode[];
}

/** Runs one SQL text on one connection and returns its rows. */
export type RunSql = (sql: string) => Promise<{ rows: Record<string, unknown>[] }>;

/** The app's reads and writes: the statements worth a plan (and the advisor's report). */
export const DML_OPERATIONS: ReadonlySet<string> = new Set([
  'SELECT',
  'INSERT',
  'UPDATE',
  'DELETE',
  'MERGE',
  'VALUES',
  'TABLE',
]);

/**
 * Whether `EXPLAIN` (without `ANALYZE`) of a text is safe and meaningful: one
 * plain DML statement. Takes the text's fingerprint, which callers already have.
 */
export function isExplainable(fp: Fingerprint): boolean {
  return DML_OPERATIONS.has(fp.operation) && !fp.text.includes(';') && !/^explain\b/.test(fp.text);
}

/** Highest `$n` outside quoted strings, identifiers and comments. */
export function parameterCount(sql: string): number {
  const bare = sql
    .replace(/--[^\n]*/g, ' ')
    .replace(/\/\*[\s\S]*?\*\//g, ' ')
    .replace(/'(?:[^']|'')*'/g, "''")
    .replace(/"(?:[^"]|"")*"/g, '""');
  let max = 0;
  for (const m of bare.matchAll(/\$(\d+)/g)) max = Math.max(max, Number(m[1]));
  return max;
}

let sequence = 0;

/**
 * The plan PostgreSQL would use for `sql` whatever its parameter values: the
 * statement is prepared and explained under `plan_cache_mode =
 * force_generic_plan`, with NULLs for the parameters, so the values neither
 * shape the plan nor appear in it. `EXPLAIN` without `ANALYZE` runs nothing.
 * Leaves the connection as it found it (the caller destroys it if this throws mid-way).
 */
export async function explainGeneric(run: RunSql, sql: string): Promise<PlanSummary> {
  const plan = await explainGenericOnce(run, sql);
  explained.set(plan, sql);
  return plan;
}

/**
 * The text each plan was explained from, kept in the process only: a pool's slow-query
 * record shows its fingerprint, never the text (it may hold literals), yet the advisor
 * needs the text to cost a hypothetical index against the same statement.
 */
const explained = new WeakMap<PlanSummary, string>();

/** The SQL `plan` was explained from by `explainGeneric`, or `null` for a plan from elsewhere. */
export function explainedSqlOf(plan: PlanSummary): string | null {
  return explained.get(plan) ?? null;
}

async function explainGenericOnce(run: RunSql, sql: string): Promise<PlanSummary> {
  const params = parameterCount(sql);
  if (params === 0) return summarisePlan((await run(`EXPLAIN (FORMAT JSON) ${sql}`)).rows);
  const name = `keel_explain_${process.pid}_${++sequence}`;
  await run('SET plan_cache_mode = force_generic_plan');
  try {
    await run(`PREPARE ${name} AS ${sql}`);
    try {
      const nulls = Array.from({ length: params }, () => 'NULL').join(', ');
      return summarisePlan((await run(`EXPLAIN (FORMAT JSON) EXECUTE ${name}(${nulls})`)).rows);
    } finally {
      await run(`DEALLOCATE ${name}`);
    }
  } finally {
    await run('RESET plan_cache_mode');
  }
}

interface RawPlan {
  'Node Type'?: string;
  Schema?: string;
  'Relation Name'?: string;
  'Index Name'?: string;
  Filter?: string;
  'Index Cond'?: string;
  'Recheck Cond'?: string;
  'Plan Rows'?: number;
  'Total Cost'?: number;
  Plans?: RawPlan[];
}

/** Flattens `EXPLAIN (FORMAT JSON)` output and scrubs any literal left in a condition. */
export function summarisePlan(rows: Record<string, unknown>[]): PlanSummary {
  const cell = rows[0]?.['QUERY PLAN'];
  const parsed = (typeof cell === 'string' ? JSON.parse(cell) : cell) as { Plan?: RawPlan }[] | undefined;
  const root = parsed?.[0]?.Plan;
  const nodes: PlanNode[] = [];
  const walk = (p: RawPlan) => {
    nodes.push({
      nodeType: p['Node Type'] ?? 'Unknown',
      schema: p.Schema,
      relation: p['Relation Name'],
      index: p['Index Name'],
      filter: scrub(p.Filter),
      indexCond: scrub(p['Index Cond'] ?? p['Recheck Cond']),
      planRows: p['Plan Rows'] ?? 0,
      totalCost: p['Total Cost'] ?? 0,
    });
    for (const child of p.Plans ?? []) walk(child);
  };
  if (root) walk(root);
  return { totalCost: root?.['Total Cost'] ?? 0, nodes };
}

/** Replaces quoted and numeric literals in a plan condition: a plan of a query with inline values must not leak them. */
export function scrub(condition: string | undefined): string | undefined {
  if (condition === undefined) return undefined;
  return condition
    .replace(/'(?:[^']|'')*'/g, "'?'")
    .replace(/(?<![\w$."])-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?![\w"])/g, '?');
}

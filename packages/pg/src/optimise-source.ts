import type { IndexAdvice, OptimiseSource, SourceAnswer, SourceQuestion } from '@keel/core';
import pg from 'pg';
import { ADVISOR_DEFAULTS } from './advisor/advisor-options.js';
import { type IndexRow, missingIndexes } from './advisor/index-findings.js';
import { EXTENSIONS_SQL, INDEXES_SQL, SERVER_SQL } from './advisor/queries.js';
import { explainGeneric, isExplainable, type PlanSummary, type RunSql } from './explain.js';
import type { PoolHost } from './pool-host.js';
import type { Fingerprinted, QueryRecording } from './query-recording.js';

/** A larger pool is sized for this much more than the average demand seen, so bursts wait less. */
const POOL_HEADROOM = 1.25;

interface ServerFacts {
  database: string;
  max_connections: number;
  reserved_connections: number;
  connections: number;
}

/**
 * What a pool tells the optimiser after a capture: for the fingerprints that
 * cost most, an index where the plan scans a large table (with the cost the
 * planner expects after it, through a hypothetical index, when hypopg is
 * installed in the database), and — when queries waited for a connection —
 * how large the pool should be, within what the server's `max_connections`
 * leaves across `instances`. Uses one connection of its own, outside the
 * pool, and only reads: hypothetical indexes live in that session only.
 */
export function poolOptimiseSource(pool: PoolHost, recording: QueryRecording): OptimiseSource {
  let waitedAtStart = 0;
  let busyAtStart = 0;
  return {
    name: `pg:${pool.name}`,
    begin() {
      waitedAtStart = pool.counters.waitSumMs;
      busyAtStart = recording.totalMs();
    },
    async analyse(question: SourceQuestion): Promise<SourceAnswer> {
      const waitMs = pool.counters.waitSumMs - waitedAtStart;
      const busyMs = recording.totalMs() - busyAtStart;
      const candidates = question.fingerprints
        .map((f) => recording.shape(f.fingerprint))
        .filter((s): s is Fingerprinted => s !== undefined && isExplainable(s));
      if (candidates.length === 0 && waitMs <= 0) return { indexes: [], pool: null, notes: [] };
      const client = new pg.Client({
        connectionTimeoutMillis: 5000,
        ...(pool.inner as unknown as { options: pg.ClientConfig }).options,
      });
      client.on('error', () => {});
      await client.connect();
      try {
        // A table locked by a migration must not hang the analysis.
        await client.query("SET lock_timeout = '2s'; SET statement_timeout = '10s'");
        const server = (await client.query(SERVER_SQL)).rows[0] as ServerFacts;
        const notes: string[] = [];
        const indexes =
          candidates.length === 0 ? [] : await suggestIndexes(client, server.database, candidates, notes);
        return {
          indexes,
          pool: waitMs > 0 ? poolAdvice(pool, server, question, waitMs, busyMs) : null,
          notes,
        };
      } finally {
        await client.end().catch(() => {});
      }
    },
  };
}

async function suggestIndexes(
  client: pg.Client,
  database: string,
  shapes: readonly Fingerprinted[],
  notes: string[],
): Promise<IndexAdvice[]> {
  const run: RunSql = (sql) => client.query(sql);
  const hypo = (await client.query(EXTENSIONS_SQL)).rows.find((r) => r.name === 'hypopg') as
    | { installed: string | null }
    | undefined;
  const hypopg = hypo?.installed != null;
  if (!hypopg)
    notes.push(
      hypo
        ? `hypopg is available but not created in database ${database}: CREATE EXTENSION hypopg; lets Keel estimate each index's plan cost before you build it`
        : 'hypopg is not installed on this server (Debian: postgresql-<version>-hypopg): index suggestions come without the plan cost after them',
    );
  const existing = (await client.query(INDEXES_SQL)).rows as IndexRow[];
  const advice: IndexAdvice[] = [];
  for (const shape of shapes) {
    let plan: PlanSummary;
    try {
      plan = await explainGeneric(run, shape.sql);
    } catch {
      // A statement that cannot be prepared alone (untyped parameters, temp tables) is skipped.
      await client.query('DEALLOCATE ALL').catch(() => {});
      await client.query('RESET plan_cache_mode').catch(() => {});
      continue;
    }
    const findings = await missingIndexes(
      client,
      run,
      [{ sql: shape.sql, fingerprint: shape.text, plan }],
      existing,
      hypopg,
      ADVISOR_DEFAULTS,
    );
    for (const finding of findings) {
      const e = finding.evidence;
      advice.push({
        fingerprint: shape.label,
        statement: finding.fix!,
        table: finding.object!.replace(/^public\./, ''),
        columns: String(e.columns).split(', '),
        costBefore: Number(e.costBefore),
        costAfter: e.costAfter === null ? null : Number(e.costAfter),
        hypopg: e.confirmedByHypopg === true,
      });
    }
  }
  return advice;
}

/**
 * The pool's size from Little's law: connections in use plus connections
 * waited for, on average over the capture, is what it needed; the suggestion
 * adds a margin for bursts and stays within the connections the server has
 * free, shared among the app's instances.
 */
function poolAdvice(
  pool: PoolHost,
  server: ServerFacts,
  question: SourceQuestion,
  waitMs: number,
  busyMs: number,
): NonNullable<SourceAnswer['pool']> {
  const from = pool.max;
  const demand = Math.round(((busyMs + waitMs) / question.windowMs) * 10) / 10;
  const usable = server.max_connections - server.reserved_connections;
  const room = Math.floor(Math.max(0, usable - server.connections) / question.instances);
  const to = Math.min(Math.max(from + 1, Math.ceil(demand * POOL_HEADROOM)), from + room);
  return {
    pool: pool.name,
    from,
    to,
    demand,
    maxConnections: server.max_connections,
    serverConnections: server.connections,
    instances: question.instances,
    waitMs: Math.round(waitMs),
    busyMs: Math.round(busyMs),
  };
}

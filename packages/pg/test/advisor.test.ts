import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { createFakeClock, createKeel, KeelErrorCode } from '@keel/core';
import { type AdvisorReport, advise, createMaintenance, createPool, exitCode, formatReport } from '@keel/pg';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { filterColumns } from '../src/advisor/index-findings.js';
import { createTestDatabase, sql, type TestDatabase } from './helpers/database.js';

let db: TestDatabase;
let server: { preloaded: boolean; hypopgAvailable: boolean };

const ORDERS_BY_CUSTOMER = 'SELECT id, total FROM orders WHERE customer_id = $1';

beforeAll(async () => {
  db = await createTestDatabase('advisor');
  const [row] = await sql<{ preload: string; hypopg: boolean }>(
    db,
    "SELECT current_setting('shared_preload_libraries') AS preload, EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'hypopg') AS hypopg",
  );
  server = { preloaded: /\bpg_stat_statements\b/.test(row!.preload), hypopgAvailable: row!.hypopg };
  // Autovacuum off on the test tables: their statistics stay exactly as the test leaves them.
  await sql(
    db,
    `CREATE TABLE orders (id serial PRIMARY KEY, customer_id int NOT NULL, status text NOT NULL,
       created_at timestamptz NOT NULL, note text, total numeric NOT NULL) WITH (autovacuum_enabled = false)`,
  );
  await sql(
    db,
    `INSERT INTO orders (customer_id, status, created_at, note, total)
     SELECT (i * 7919) % 5000, (ARRAY['new', 'paid', 'shipped'])[1 + i % 3], now() - i * interval '1 minute', 'n' || i, i % 100
     FROM generate_series(1, 50000) AS i`,
  );
  await sql(db, 'CREATE INDEX orders_note_idx ON orders (note)');
  await sql(db, 'CREATE INDEX orders_created_a ON orders (created_at)');
  await sql(db, 'CREATE INDEX orders_created_b ON orders (created_at)');
  await sql(db, 'CREATE INDEX orders_status_idx ON orders (status)');
  await sql(db, 'CREATE INDEX orders_status_created_idx ON orders (status, created_at)');
  await sql(db, 'ANALYZE orders');
  // A failed CREATE INDEX CONCURRENTLY leaves an invalid index behind.
  await sql(db, 'CREATE UNIQUE INDEX CONCURRENTLY orders_status_unique ON orders (status)').catch(() => {});

  await sql(
    db,
    'CREATE TABLE events (id bigserial PRIMARY KEY, kind text) WITH (autovacuum_enabled = false)',
  );
  await sql(db, "INSERT INTO events (kind) SELECT 'k' || (i % 10) FROM generate_series(1, 5000) AS i");
  await sql(db, 'CREATE TABLE churn (id int PRIMARY KEY, v text) WITH (autovacuum_enabled = false)');
  await sql(db, "INSERT INTO churn SELECT i, 'v' FROM generate_series(1, 10000) AS i");
  await sql(db, 'ANALYZE churn');
  await sql(db, 'DELETE FROM churn WHERE id % 2 = 0');
}, 60_000);

afterAll(async () => {
  await db?.close();
});

const of = (report: AdvisorReport, kind: string) => report.findings.filter((f) => f.kind === kind);

/** Skips the test without hypopg on the server; creates it in the test database otherwise. */
async function requireHypopg(ctx: TestContext): Promise<void> {
  if (!server.hypopgAvailable) {
    console.log(
      'skipped: the hypopg extension is not installed on this server (Debian: postgresql-15-hypopg)',
    );
    ctx.skip();
  }
  await sql(db, 'CREATE EXTENSION IF NOT EXISTS hypopg');
}

/** Runs `text` once through a pool that captures every query's plan, then advises with that pool. */
async function adviseWithCapturedPlan(text: string, values: unknown[]): Promise<AdvisorReport> {
  const keel = createKeel({ runtime: false });
  const pool = createPool(keel, {
    pg: db.config,
    healthCheck: false,
    slowQuery: { thresholdMs: 0, explain: true },
    onEvent: () => {},
  });
  try {
    await pool.query(text, values);
    await pool.plansSettled();
    expect(pool.slowQueries()[0]!.plan).not.toBeNull();
    return await advise(db.url, { pool });
  } finally {
    await pool.end();
    await keel.close();
  }
}

describe('advise', () => {
  it('suggests the missing index for a selective sequential scan on a large table, and not for an unselective one', async () => {
    const report = await advise(db.url, {
      queries: [
        ORDERS_BY_CUSTOMER,
        "SELECT id FROM orders WHERE status = $1 AND note = 'x'",
        'SELECT * FROM orders WHERE total > $1',
      ],
    });
    const missing = of(report, 'missing-index');
    expect(missing.map((f) => f.fix)).toContain(
      'CREATE INDEX CONCURRENTLY orders_customer_id_idx ON orders (customer_id);',
    );
    const suggestion = missing.find((f) => f.fix?.includes('(customer_id)'))!;
    expect(suggestion.evidence.tableRows).toBeGreaterThanOrEqual(40_000);
    expect(Number(suggestion.evidence.selectivity)).toBeLessThan(0.01);
    // `total > $1` keeps a third of the table: an index would not help, so none is suggested.
    expect(missing.some((f) => f.fix?.includes('(total)'))).toBe(false);
  });

  it('confirms the suggestion with a hypothetical index when hypopg is installed', async (ctx) => {
    await requireHypopg(ctx);
    const report = await advise(db.url, { queries: [ORDERS_BY_CUSTOMER] });
    expect(report.hypopg).toEqual({ enabled: true, guidance: null });
    const suggestion = of(report, 'missing-index').find((f) => f.fix?.includes('(customer_id)'))!;
    expect(suggestion.evidence.confirmedByHypopg).toBe(true);
    expect(Number(suggestion.evidence.costAfter)).toBeLessThan(Number(suggestion.evidence.costBefore) / 2);
  });

  it('finds unused, duplicate, redundant and invalid indexes', async () => {
    const report = await advise(db.url);
    expect(of(report, 'unused-index').map((f) => f.object)).toContain('public.orders.orders_note_idx');
    // The primary key is never reported as unused.
    expect(of(report, 'unused-index').map((f) => f.object)).not.toContain('public.orders.orders_pkey');
    const duplicates = of(report, 'duplicate-index');
    expect(duplicates).toHaveLength(1);
    expect(duplicates[0]!.object).toBe('public.orders.orders_created_b');
    expect(duplicates[0]!.fix).toBe('DROP INDEX CONCURRENTLY orders_created_b;');
    expect(of(report, 'redundant-index').map((f) => f.object)).toEqual(['public.orders.orders_status_idx']);
    const invalid = of(report, 'invalid-index');
    expect(invalid.map((f) => [f.object, f.severity])).toEqual([
      ['public.orders.orders_status_unique', 'critical'],
    ]);
    expect(report.findings[0]!.severity).toBe('critical');
  });

  it('finds tables needing VACUUM or ANALYZE, and reports connections in use', async () => {
    const report = await advise(db.url);
    expect(of(report, 'needs-vacuum').map((f) => [f.object, f.fix])).toEqual([
      ['public.churn', 'VACUUM (ANALYZE) churn;'],
    ]);
    expect(of(report, 'needs-analyze').map((f) => f.object)).toContain('public.events');
    expect(report.connections.used).toBeGreaterThanOrEqual(1);
    expect(report.connections.max).toBeGreaterThan(report.connections.used);
  });

  it('gives guidance when pg_stat_statements is not usable in the database', async () => {
    const report = await advise(db.url);
    if (server.preloaded) {
      // Loaded by the server, but not created in this fresh database.
      expect(report.pgStatStatements.guidance).toMatch(/CREATE EXTENSION pg_stat_statements/);
    } else {
      expect(report.pgStatStatements.guidance).toMatch(/shared_preload_libraries/);
      expect(report.pgStatStatements.guidance).toMatch(/restart/);
    }
    expect(report.pgStatStatements.enabled).toBe(false);
    expect(of(report, 'setup')[0]!.message).toBe(report.pgStatStatements.guidance);
  });

  it('reads pg_stat_statements when enabled and joins the pool fingerprints', async (ctx) => {
    if (!server.preloaded) {
      console.log(
        'skipped: pg_stat_statements is not in shared_preload_libraries on this server (CI enables it; see .ci/run)',
      );
      ctx.skip();
    }
    await sql(db, 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    const keel = createKeel({ runtime: false });
    const pool = createPool(keel, { pg: db.config, healthCheck: false });
    try {
      for (let i = 1; i <= 5; i++) await pool.query(ORDERS_BY_CUSTOMER, [i]);
      const report = await advise(db.url, { pool });
      expect(report.pgStatStatements).toEqual({ enabled: true, guidance: null });
      const statement = report.statements.find(
        (s) => s.fingerprint === 'select id, total from orders where customer_id = ?',
      );
      expect(statement).toBeDefined();
      expect(statement!.calls).toBeGreaterThanOrEqual(5);
      expect(statement!.inProcess?.calls).toBe(5);
      // Only the app's reads and writes: not the setup's DDL, nor the advisor's own catalog queries.
      expect(report.statements.map((s) => s.fingerprint.split(' ')[0])).not.toContain('create');
      expect(JSON.stringify(report.statements)).not.toMatch(/pg_get_indexdef|pg_stat_user_tables/);
      // The statement came from pg_stat_statements, so its missing index is found without being named.
      expect(of(report, 'missing-index').some((f) => f.fix?.includes('(customer_id)'))).toBe(true);
    } finally {
      await pool.end();
      await keel.close();
    }
  });

  it('uses the plans a pool captured for its slow queries', async () => {
    const report = await adviseWithCapturedPlan(
      'SELECT id FROM orders WHERE customer_id = $1 AND total = $2',
      [42, 7],
    );
    expect(of(report, 'missing-index').map((f) => f.fix)).toContain(
      'CREATE INDEX CONCURRENTLY orders_customer_id_total_idx ON orders (customer_id, total);',
    );
  });

  // The README: with hypopg created, a suggestion is kept only if a hypothetical index
  // halves the plan's cost. A plan the pool captured was passed on unconfirmed.
  it("confirms a suggestion from a pool's captured plan with hypopg too", async (ctx) => {
    await requireHypopg(ctx);
    const report = await adviseWithCapturedPlan(ORDERS_BY_CUSTOMER, [42]);
    const suggestion = of(report, 'missing-index').find((f) => f.fix?.includes('(customer_id)'))!;
    expect(suggestion.evidence.confirmedByHypopg).toBe(true);
    expect(Number(suggestion.evidence.costAfter)).toBeLessThan(Number(suggestion.evidence.costBefore) / 2);
  });

  // A typo in a CI gate's options must fail it, not quietly keep the defaults
  // (or, for exitCode's level, pass every run).
  it.each([
    [{ query: [ORDERS_BY_CUSTOMER] }, '`query`'],
    [{ queries: ORDERS_BY_CUSTOMER }, '`queries`'],
    [{ thresholds: { minRows: 100 } }, '`thresholds.minRows`'],
    [{ thresholds: { maxSelectivity: 5 } }, '`thresholds.maxSelectivity`'],
    [{ thresholds: { minCalls: 0 } }, '`thresholds.minCalls`'],
    [{ pool: 'main' }, '`pool`'],
  ])('rejects advise(url, %j) with KEEL_INVALID_OPTION naming %s', async (options, path) => {
    const error = await advise(db.url, options as never).then(
      () => null,
      (e: unknown) => e as { code: string; message: string },
    );
    expect(error?.code).toBe(KeelErrorCode.InvalidOption);
    expect(error?.message).toContain(path);
  });

  it('takes thresholds given as undefined as not given, and refuses an unknown exitCode level', async () => {
    // Spread over the defaults, `topStatements: undefined` made pg_stat_statements' LIMIT NaN.
    if (server.preloaded) await sql(db, 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    const report = await advise(db.url, {
      queries: [ORDERS_BY_CUSTOMER],
      thresholds: { topStatements: undefined, minTableRows: undefined },
    });
    expect(report.pgStatStatements.enabled).toBe(server.preloaded);
    expect(of(report, 'missing-index').map((f) => f.fix)).toContain(
      'CREATE INDEX CONCURRENTLY orders_customer_id_idx ON orders (customer_id);',
    );
    expect(() => exitCode(report, 'warnings' as never)).toThrow(
      /`failOn` must be critical, warning, info or never/,
    );
  });

  it('gives CI an exit code and people a table', async () => {
    const report = await advise(db.url);
    expect(exitCode(report)).toBe(1);
    expect(exitCode(report, 'never')).toBe(0);
    expect(exitCode({ ...report, findings: report.findings.filter((f) => f.severity === 'info') })).toBe(0);
    const text = formatReport(report);
    expect(text).toMatch(/^severity\s+kind\s+object\s+finding$/m);
    expect(text).toContain('DROP INDEX CONCURRENTLY orders_created_b;');
  });

  it('fails with a typed error when the database cannot be reached', async () => {
    await expect(advise('postgres://postgres@127.0.0.1:1/none')).rejects.toMatchObject({
      code: KeelErrorCode.DatabaseUnavailable,
    });
  });

  it('extracts filter columns, equalities first', () => {
    const columns = ['a', 'b', 'c', 'Mixed'];
    expect(filterColumns('((c > $1) AND (a = $2))', columns)).toEqual(['a', 'c']);
    expect(filterColumns('(("Mixed")::text = $1)', columns)).toEqual(['Mixed']);
    expect(filterColumns('(lower(b) = $1)', columns)).toEqual(['b']);
    expect(filterColumns('(x.a = $1)', columns)).toEqual([]);
  });
});

describe('keel-pg advise (CLI)', () => {
  const root = fileURLToPath(new URL('../../..', import.meta.url));
  const cli = (...args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        // tsx runs the source; from the repo root it maps @keel/* to their sources (tsconfig paths).
        [createRequire(import.meta.url).resolve('tsx/cli'), 'packages/pg/src/cli.ts', ...args],
        { cwd: root, env: { ...process.env, DATABASE_URL: '' } },
        (error, stdout, stderr) =>
          resolve({ code: error ? ((error.code as number) ?? 1) : 0, stdout, stderr }),
      );
    });

  it('prints JSON for CI and exits 1 on findings', async () => {
    const { code, stdout } = await cli('advise', db.url, '--json', '--query', ORDERS_BY_CUSTOMER);
    expect(code).toBe(1);
    const report = JSON.parse(stdout) as AdvisorReport;
    expect(report.database).toBe(db.isolation === 'database' ? db.name : report.database);
    expect(report.findings.some((f) => f.kind === 'missing-index')).toBe(true);
  });

  it('prints a table and honours --fail-on', async () => {
    const { code, stdout } = await cli('advise', db.url, '--fail-on', 'never');
    expect(code).toBe(0);
    expect(stdout).toContain('keel-pg advise');
    expect(stdout).toMatch(/duplicate-index/);
  });

  it('exits 2 on bad usage or an unreachable database', async () => {
    expect((await cli('advise', db.url, '--fail-on', 'sometimes')).code).toBe(2);
    expect((await cli('frobnicate')).code).toBe(2);
    const down = await cli('advise', 'postgres://postgres@127.0.0.1:1/none');
    expect(down.code).toBe(2);
    expect(down.stderr).toMatch(/cannot connect/);
  });
});

describe('maintenance runner', () => {
  it('runs what tables need, one at a time, inside the window while the app is quiet, and records it', async () => {
    const clock = createFakeClock(Date.UTC(2026, 0, 1, 12, 0));
    const keel = createKeel({ runtime: false, clock });
    const pool = createPool(keel, { pg: db.config, healthCheck: false });
    try {
      const runs: unknown[] = [];
      const maintenance = createMaintenance(pool, {
        window: { start: '02:00', end: '05:00' },
        maxRequestsPerSecond: 1,
        onRun: (r) => runs.push(r),
      });
      expect((await maintenance.runOnce()).skipped).toMatch(/outside the maintenance window/);

      clock.set(Date.UTC(2026, 0, 2, 3, 0));
      // Let the jump's catch-up rotations pass before recording.
      clock.advance(keel.config.interval);
      // Busy: 600 requests in the last window is 2/s.
      for (let i = 0; i < 600; i++) keel.recordRequest('GET', '/x', 200, 5);
      clock.advance(keel.config.interval);
      expect((await maintenance.runOnce()).skipped).toMatch(/request rate 2\.00\/s/);

      clock.advance(keel.config.interval * keel.config.windowIntervals);
      const pass = await maintenance.runOnce();
      expect(pass.skipped).toBeNull();
      const done = pass.runs.map((r) => [r.table, r.action, r.ok]);
      expect(done).toContainEqual(['public.churn', 'VACUUM (ANALYZE)', true]);
      expect(done).toContainEqual(['public.events', 'ANALYZE', true]);
      expect(maintenance.runs()).toEqual(pass.runs);
      expect(runs).toEqual(pass.runs);

      const after = await advise(db.url);
      expect(of(after, 'needs-vacuum')).toEqual([]);
      expect(of(after, 'needs-analyze').map((f) => f.object)).not.toContain('public.events');
    } finally {
      await pool.end();
      await keel.close();
    }
  });

  it('gives up on a locked table after lock_timeout and records the failure', async () => {
    await sql(db, "INSERT INTO events (kind) SELECT 'more' FROM generate_series(1, 5000)");
    const clock = createFakeClock(Date.UTC(2026, 0, 1, 3, 0));
    const keel = createKeel({ runtime: false, clock });
    const pool = createPool(keel, { pg: db.config, healthCheck: false });
    const pg = await import('pg');
    const locker = new pg.default.Client(db.config);
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE events IN ACCESS EXCLUSIVE MODE');
      const maintenance = createMaintenance(pool, { lockTimeoutMs: 200 });
      const pass = await maintenance.runOnce();
      const run = pass.runs.find((r) => r.table === 'public.events')!;
      expect(run.ok).toBe(false);
      expect(run.error).toMatch(/lock timeout/);
      // The connection went back clean.
      const r = await pool.query<{ lock_timeout: string }>('SHOW lock_timeout');
      expect(r.rows[0]!.lock_timeout).toBe('0');
    } finally {
      await locker.query('ROLLBACK');
      await locker.end();
      await pool.end();
      await keel.close();
    }
  });

  it('rejects a malformed window at setup', () => {
    const keel = createKeel({ runtime: false });
    const pool = createPool(keel, { pg: db.config, healthCheck: false });
    expect(() => createMaintenance(pool, { window: { start: '2am', end: '05:00' } })).toThrow(
      expect.objectContaining({ code: KeelErrorCode.InvalidOption }),
    );
    void pool.end();
    void keel.close();
  });
});

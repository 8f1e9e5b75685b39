import type { KeelExpress } from '@keel/express';
import type { KeelPool } from '@keel/pg';
import type { Express } from 'express';
import pg from 'pg';

/**
 * Orders in the demo table, built in about two seconds: about 200 MB, more than
 * PostgreSQL's default 128 MB of shared buffers, so a scan without an index is
 * slow on a fast machine too (600,000 fitted in the buffers, and an idle
 * machine served the route within the budget under the README's load test).
 */
export const DEMO_ORDERS = 1_500_000;
const DEMO_CUSTOMERS = 5000;
/** The demo routes may take longer than the API budget: their slowness is what the optimiser is shown. */
const DEMO_DEADLINE_MS = 5000;

export const OPTIMISE_ROUTES = ['GET /api/orders?customer=N', 'GET /api/orders/recent'] as const;

/**
 * The optimisation loop's demo data: `studio_customers` and
 * `studio_orders` (1,500,000 rows from `generate_series`), with no index on
 * `studio_orders.customer_id`, the column `/api/orders` filters on. Runs at
 * start-up on a connection of its own, before Keel's pool exists, so the
 * set-up is not recorded as the app's queries; a table already filled is
 * left as it is (an index you built on it stays). Creates hypopg in the
 * database when the server has it, so the optimiser can cost the index it
 * suggests; says so when it cannot.
 */
export async function prepareOptimiseDemo(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(
      'CREATE TABLE IF NOT EXISTS studio_customers (id int PRIMARY KEY, name text NOT NULL)',
    );
    await client.query(
      `CREATE TABLE IF NOT EXISTS studio_orders (
         id int PRIMARY KEY, customer_id int NOT NULL, total_cents int NOT NULL,
         created_at timestamptz NOT NULL, note text NOT NULL)`,
    );
    const { rows } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM studio_orders');
    if (rows[0]!.n === 0) {
      await client.query(
        `INSERT INTO studio_customers SELECT i, 'customer ' || i FROM generate_series(1, ${DEMO_CUSTOMERS}) AS i
         ON CONFLICT (id) DO NOTHING`,
      );
      await client.query(
        `INSERT INTO studio_orders
         SELECT i, 1 + ((i::bigint * 7919) % ${DEMO_CUSTOMERS})::int, (i * 31) % 100000,
                timestamptz '2026-01-01' + i * interval '1 minute', repeat('x', 80)
         FROM generate_series(1, ${DEMO_ORDERS}) AS i`,
      );
      await client.query('ANALYZE studio_customers');
      await client.query('ANALYZE studio_orders');
    }
    try {
      await client.query('CREATE EXTENSION IF NOT EXISTS hypopg');
    } catch {
      console.log('hypopg is not available on this PostgreSQL: index suggestions will not be costed');
    }
  } finally {
    await client.end();
  }
}

/**
 * Two routes with the bottlenecks the optimiser finds:
 * - `GET /api/orders?customer=N` — a customer's latest orders, filtered on a
 *   column without an index: a scan of every row per request;
 * - `GET /api/orders/recent` — the latest 20 orders, then each one's
 *   customer in a query of its own: an N+1 (21 queries per request).
 */
export function mountOptimiseDemo(app: Express, pool: KeelPool, k: KeelExpress): void {
  const deadline = k.deadline(DEMO_DEADLINE_MS);
  app.get('/api/orders', deadline, async (req, res, next) => {
    const customer = req.query.customer;
    if (typeof customer !== 'string' || !/^\d{1,6}$/.test(customer)) {
      res.status(400).json({ error: 'customer must be a positive integer' });
      return;
    }
    try {
      const { rows } = await pool.query(
        'SELECT id, total_cents, created_at FROM studio_orders WHERE customer_id = $1 ORDER BY created_at DESC LIMIT 20',
        [Number(customer)],
      );
      res.json({ customer: Number(customer), orders: rows });
    } catch (error) {
      next(error);
    }
  });

  app.get('/api/orders/recent', deadline, async (_req, res, next) => {
    try {
      const { rows } = await pool.query<{ id: number; customer_id: number; total_cents: number }>(
        'SELECT id, customer_id, total_cents FROM studio_orders ORDER BY id DESC LIMIT 20',
      );
      // One query per order: the N+1 the optimiser reports (a JOIN would do it in one).
      const orders = [];
      for (const order of rows) {
        const customer = await pool.query<{ name: string }>(
          'SELECT name FROM studio_customers WHERE id = $1',
          [order.customer_id],
        );
        orders.push({ ...order, customer: customer.rows[0]?.name ?? null });
      }
      res.json({ orders });
    } catch (error) {
      next(error);
    }
  });
}

import type { Keel } from '@keel/core';
import { instrument, type KeelExpressOptions } from '@keel/express';
import type { KeelPool } from '@keel/pg';
import express, { type ErrorRequestHandler, type Express, type RequestHandler } from 'express';
import { DB_ROUTES, mountDatabaseRoutes } from './db.js';
import { FRONTEND_PAGES, FRONTEND_ROUTES, mountFrontend } from './frontend/mount-frontend.js';
import { mountOptimiseDemo, OPTIMISE_ROUTES } from './optimise-demo.js';
import { mountVitalsDemo } from './vitals.js';

/** The longest delay `/demo/slow` accepts, ms. */
export const MAX_SLOW_MS = 30_000;
/** What `/demo/slow` waits when `ms` is not given. */
const DEFAULT_SLOW_MS = 1000;

interface User {
  id: number;
  name: string;
  role: string;
}

const USERS: readonly User[] = [
  { id: 1, name: 'Ada Lovelace', role: 'admin' },
  { id: 2, name: 'Grace Hopper', role: 'editor' },
  { id: 3, name: 'Edsger Dijkstra', role: 'viewer' },
];

/** The app's own routes, as templates; `GET /` lists them next to Keel's endpoints. */
export const ROUTES = [
  'GET /',
  'GET /api/users',
  'GET /api/users/:id',
  'GET /demo/slow?ms=N',
  ...DB_ROUTES,
  ...OPTIMISE_ROUTES,
  'GET /demo/error',
  'GET /vitals-demo',
  ...FRONTEND_ROUTES,
] as const;

/** Thrown by `/demo/error` on purpose, so the error handler knows not to log it. */
class DemoError extends Error {}

/** Parses `?ms=`: an integer from 0 to `MAX_SLOW_MS`, or `null` when invalid. */
export function parseDelay(value: unknown): number | null {
  if (value === undefined) return DEFAULT_SLOW_MS;
  if (typeof value !== 'string' || !/^\d{1,5}$/.test(value)) return null;
  const ms = Number(value);
  return ms <= MAX_SLOW_MS ? ms : null;
}

function usersRouter(cached: RequestHandler): express.Router {
  const router = express.Router();
  // The list is the same for everyone: answered from Keel's response cache (ETag, 304, stale-while-revalidate).
  router.get('/users', cached, (_req, res) => {
    res.json({ users: USERS });
  });
  router.get('/users/:id', (req, res) => {
    const user = USERS.find((u) => String(u.id) === req.params.id);
    if (!user) {
      res.status(404).json({ error: 'user not found', id: req.params.id });
      return;
    }
    res.json(user);
  });
  return router;
}

/**
 * The studio API. Takes the Keel instance instead of creating one, so tests
 * can pass one driven by a fake clock and start the app on port 0.
 */
export function createApp(keel: Keel, shutdown?: KeelExpressOptions['shutdown'], db?: KeelPool): Express {
  const app = express();
  app.disable('x-powered-by');
  // One line: per-route recording, /livez /readyz /health /metrics, load
  // shedding, request deadlines, Server-Timing and graceful shutdown.
  const k = instrument(app, { keel, shutdown });
  // The gallery page (src/frontend/): compression for every route below, or none with KEEL_DEMO_CARELESS=1.
  mountFrontend(app);

  // This stands in for a real dependency (a database, a downstream API): a
  // real check would ping it, and a failing critical check turns /readyz 503.
  keel.addCheck({ name: 'downstream', check: () => true });

  app.get('/', (_req, res) => {
    // `keel audit` reads `routes` and `pages` from here; the listing changes with a deploy: revalidate it.
    res.set('Cache-Control', 'no-cache');
    res.json({ service: keel.config.service, routes: ROUTES, pages: FRONTEND_PAGES, endpoints: keel.paths });
  });

  // A page that beacons Web Vitals and TTI to /keel/vitals (mounted by instrument): the page_load budget.
  mountVitalsDemo(app);

  app.use('/api', usersRouter(k.cache({ name: 'users', ttl: 5000, staleWhileRevalidate: 60_000 })));

  app.get('/demo/slow', (req, res) => {
    const ms = parseDelay(req.query.ms);
    if (ms === null) {
      res.status(400).json({ error: `ms must be an integer from 0 to ${MAX_SLOW_MS}` });
      return;
    }
    const timer = setTimeout(() => res.json({ sleptMs: ms }), ms);
    // A client that gives up frees its timer.
    res.once('close', () => clearTimeout(timer));
  });

  app.get('/demo/error', () => {
    throw new DemoError('this endpoint always fails, to show the error_rate budget');
  });

  // PostgreSQL through Keel's pool (src/db.ts): a lookup, and a slow query for the db_latency budget.
  if (db) mountDatabaseRoutes(app, db);
  // A slow scan and an N+1 for the optimisation loop (src/optimise-demo.ts).
  if (db) mountOptimiseDemo(app, db, k);

  app.use((_req, res) => {
    res.status(404).json({ error: 'not found' });
  });

  const onError: ErrorRequestHandler = (error, _req, res, next) => {
    // Too late for a JSON body: Express's default handler closes the connection.
    if (res.headersSent) {
      next(error);
      return;
    }
    if (!(error instanceof DemoError)) console.error(error);
    res.status(500).json({ error: error instanceof DemoError ? error.message : 'internal error' });
  };
  app.use(onError);

  return app;
}

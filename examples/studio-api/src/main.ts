import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { createKeel } from '@keel/core';
import { createApp, ROUTES } from './app.js';
import { envInt, loadConfig } from './config.js';
import { createDatabase, startDatabase } from './db.js';
import { prepareFrontend } from './frontend/mount-frontend.js';
import { monitorOptionsFromEnv, startMonitor } from './monitor.js';
import { prepareOptimiseDemo } from './optimise-demo.js';

// keel.config.ts is the one source of the budgets: the keel CLI generates the Prometheus rules,
// Kubernetes objects and dashboard under deploy/ from the same file (see src/config.ts for the
// demo's environment overrides, e.g. KEEL_INTERVAL_MS=2000 KEEL_WINDOW_MS=60000).
const config = loadConfig();
// The careless demo page's files (KEEL_DEMO_CARELESS=1) take seconds of CPU: made before Keel measures the event loop.
prepareFrontend();
// The app's state directory, which the monitor's journal shares (src/monitor.ts).
const stateDir = process.env.KEEL_MONITOR_DIR || '.keel';
mkdirSync(stateDir, { recursive: true });
// A heartbeat every interval: after a crash or a kill, the time until this app is back
// counts as downtime in the availability budget (a planned shutdown's does not).
const keel = createKeel({
  ...config,
  health: { ...config.health, heartbeatFile: join(stateDir, 'heartbeat.json') },
});
// PostgreSQL: DATABASE_URL, else an embedded server (src/db.ts). Its stop is registered
// first so it runs last on shutdown, after the pool has closed. The embedded server runs in a
// process group of its own, so a terminal's Ctrl-C reaches the app only, not the database.
const database = await startDatabase();
keel.onShutdown(async () => {
  await database.stop();
  if (database.source === 'embedded') console.log('postgres: embedded server stopped');
}, 'embedded-postgres');
// The steps of a shutdown, in the order they happen (test/ctrl-c.test.ts checks them).
keel.on('shutdown', () =>
  console.log('studio-api: shutting down: /readyz answers 503, in-flight requests finish'),
);
// The optimisation loop's demo tables (src/optimise-demo.ts): 600,000 orders, no index on customer_id.
await prepareOptimiseDemo(database.url);
const db = await createDatabase(keel, database.url);
// The health monitoring cycle and incident response (see src/monitor.ts and the README);
// KEEL_MONITOR=off leaves it out, so the README's budget walkthrough breaches budgets without
// the monitor acting on them (its own story comes after).
const monitorOn = process.env.KEEL_MONITOR?.trim() !== 'off';
if (monitorOn) startMonitor(keel, monitorOptionsFromEnv(process.env, db));
// SIGTERM/SIGINT: /readyz turns 503, in-flight requests drain, then the process exits;
// a second signal exits at once. Behind Kubernetes the config's pre-stop delay keeps serving
// until the endpoint is removed (KEEL_PRESTOP_MS overrides it).
const app = createApp(keel, { ...config.shutdown, signals: true }, db);
const port = envInt('PORT') ?? 3000;

const server = app.listen(port, (error?: Error) => {
  if (error) {
    console.error(`studio-api: cannot listen on port ${port}: ${error.message}`);
    process.exitCode = 1;
    void keel.close();
    return;
  }
  const url = `http://localhost:${(server.address() as AddressInfo).port}`;
  const { interval, windowIntervals, hysteresis, minSamples } = keel.config;
  console.log(`studio-api listening on ${url}`);
  console.log(
    `postgres: ${database.source === 'embedded' ? `embedded (no DATABASE_URL set) at ${database.url}` : 'DATABASE_URL'}`,
  );
  console.log('routes:');
  for (const route of ROUTES) console.log(`  ${route}`);
  console.log('keel endpoints:');
  for (const path of Object.values(keel.paths)) console.log(`  GET ${path}`);
  // The dashboard, also on the admin port on loopback (KEEL_ADMIN_PORT, default a free port):
  // where an endpoints token guards the app's port, this one is reachable from this machine only.
  keel.listen(envInt('KEEL_ADMIN_PORT') ?? 0, '127.0.0.1').then(
    (admin) => console.log(`dashboard: http://127.0.0.1:${admin.port}${keel.paths.dashboard}`),
    (error: Error) => console.error(`studio-api: no admin port for the dashboard: ${error.message}`),
  );
  console.log(
    `budgets are judged every ${interval / 1000} s over ${(interval * windowIntervals) / 1000} s, ` +
      `from ${minSamples} samples, after ${hysteresis} evaluations agree`,
  );
  console.log(monitorOn ? `monitor: on, state in ${resolve(stateDir)}` : 'monitor: off (KEEL_MONITOR=off)');
});

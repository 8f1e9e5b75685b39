import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type EmbeddedPostgres, startEmbeddedPostgres } from '@keel/dev-postgres';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Started, startStudioApi } from './support/processes.js';

// One PostgreSQL for every start, given as DATABASE_URL: an app killed with SIGKILL cannot
// stop an embedded server of its own, which would leave its files behind.
let database: EmbeddedPostgres;
beforeAll(async () => {
  database = await startEmbeddedPostgres({ prefix: 'studio-test-pg-' });
}, 60_000);
afterAll(() => database?.stop());

// The example writes a heartbeat into its state directory: a restart after a
// crash counts the gap as downtime; a restart after a planned shutdown does not.

const running: (Started & { base: string })[] = [];
afterEach(() => {
  for (const app of running.splice(0)) if (app.child.exitCode === null) app.kill('SIGKILL');
});

const ENV = { KEEL_INTERVAL_MS: '1000', KEEL_WINDOW_MS: '30000', KEEL_HYSTERESIS: '1' };

async function start(dir: string): Promise<Started & { base: string }> {
  const app = await startStudioApi({ ...ENV, KEEL_MONITOR_DIR: dir, DATABASE_URL: database.url });
  running.push(app);
  return app;
}

async function availability(base: string) {
  // Two evaluations after start, so the first interval (which holds any gap) has been judged.
  await new Promise((r) => setTimeout(r, 2500));
  const health = (await (await fetch(`${base}/health`)).json()) as {
    budgets: { name: string; state: string; value: number | null; samples: number }[];
  };
  return health.budgets.find((b) => b.name === 'availability')!;
}

const exited = (app: Started) => new Promise<number | null>((resolve) => app.child.once('exit', resolve));

describe('studio-api heartbeat', () => {
  it('counts the gap after a kill as downtime, and not the one after a planned shutdown', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'studio-heartbeat-'));
    const file = join(dir, 'heartbeat.json');
    const first = await start(dir);
    await expect.poll(() => existsSync(file), { timeout: 5000 }).toBe(true);
    const killed = exited(first);
    first.kill('SIGKILL');
    await killed;
    await new Promise((r) => setTimeout(r, 3000));

    const second = await start(dir);
    const afterCrash = await availability(second.base);
    console.log(`after a kill and 3 s away: availability ${afterCrash.value} %, ${afterCrash.state}`);
    // No request yet, and still the time it was gone is measured.
    expect(afterCrash.samples).toBe(0);
    expect(afterCrash.value).toBeLessThan(90);
    expect(afterCrash.state).toBe('breached');

    const stopped = exited(second);
    second.kill('SIGTERM');
    expect(await stopped).toBe(0);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ planned: true });
    await new Promise((r) => setTimeout(r, 3000));

    const third = await start(dir);
    const afterShutdown = await availability(third.base);
    console.log(
      `after a planned shutdown and 3 s away: availability ${afterShutdown.value}, ${afterShutdown.state}`,
    );
    expect(afterShutdown.state).not.toBe('breached');
    expect(afterShutdown.value === null || afterShutdown.value >= 99.9).toBe(true);
  }, 120_000);
});

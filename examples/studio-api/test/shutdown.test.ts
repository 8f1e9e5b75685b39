import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type Started, startStudioApi } from './support/processes.js';

// The example as `pnpm start` runs it (node --import tsx, its own PostgreSQL: DATABASE_URL
// or an embedded one), stopped the way Kubernetes stops a pod.
let app: (Started & { base: string }) | undefined;
// Its state (heartbeat, monitor journal) in a directory of its own, not the example's .keel.
const stateDir = mkdtempSync(join(tmpdir(), 'studio-shutdown-'));

afterEach(async () => {
  await app?.stop(0);
  rmSync(stateDir, { recursive: true, force: true });
});

describe('studio-api on SIGTERM', () => {
  it('finishes the request in flight, stops its database after the drain, and exits 0', async () => {
    app = await startStudioApi({ KEEL_MONITOR_DIR: stateDir });
    const { base, output, child } = app;
    expect((await fetch(`${base}/api/db/users/1`)).status).toBe(200);

    const inFlight = fetch(`${base}/demo/slow?ms=1500`);
    await new Promise((r) => setTimeout(r, 300));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');

    const answer = await inFlight;
    expect(answer.status).toBe(200);
    expect(await exited).toBe(0);
    // The database outlived the drain: no connection was cut under the pool.
    expect(output()).not.toMatch(/terminating connection/);
  }, 90_000);
});

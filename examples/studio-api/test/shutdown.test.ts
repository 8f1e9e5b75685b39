import type { ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type Started, startExample } from './spawn.js';

// The example as `pnpm start` runs it, stopped the way Kubernetes stops a pod.
let app: Started | undefined;
let child: ChildProcess | undefined;

afterEach(() => {
  if (app && app.child.exitCode === null) app.kill('SIGKILL');
});

async function start(): Promise<{ base: string; output: () => string }> {
  // Its state (journal, heartbeat) in a directory of its own, not in the example's .keel.
  app = await startExample({ KEEL_MONITOR_DIR: mkdtempSync(join(tmpdir(), 'studio-shutdown-')) });
  child = app.child;
  return app;
}

describe('studio-api on SIGTERM', () => {
  it('finishes the request in flight, stops its database after the drain, and exits 0', async () => {
    const { base, output } = await start();
    expect((await fetch(`${base}/api/db/users/1`)).status).toBe(200);

    const inFlight = fetch(`${base}/demo/slow?ms=1500`);
    await new Promise((r) => setTimeout(r, 300));
    const exited = new Promise<number | null>((resolve) => child!.once('exit', resolve));
    child!.kill('SIGTERM');

    const answer = await inFlight;
    expect(answer.status).toBe(200);
    expect(await exited).toBe(0);
    // The database outlived the drain: no connection was cut under the pool.
    expect(output()).not.toMatch(/terminating connection/);
  }, 90_000);
});

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { reachable } from '@keel/dev-postgres';
import { describe, expect, it } from 'vitest';
import { foregroundJobs } from '../../../scripts/test/support/process-group.js';

// Ctrl-C in a terminal under `pnpm start`: the terminal sends SIGINT to the whole
// foreground process group — pnpm, the app, and (before decision 0025) the embedded
// PostgreSQL — and pnpm relays it once more to the app.
const example = fileURLToPath(new URL('..', import.meta.url));
const rootPackage = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
  scripts: Record<string, string>;
};
const examplePackage = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  scripts: Record<string, string>;
};

const startJob = foregroundJobs();

describe('Ctrl-C under pnpm start', () => {
  it('is the root start script: the packages built, then the example start command in its folder', () => {
    // So the run below (the example's `pnpm start`) is what the root's `pnpm start` ends in.
    expect(rootPackage.scripts.start).toBe(
      `pnpm build && cd examples/studio-api && ${examplePackage.scripts.start}`,
    );
  });

  it('drains, stops the embedded PostgreSQL last, exits 0, and prints no error', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'studio-ctrl-c-'));
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PORT: '0',
      KEEL_PRESTOP_MS: '0',
      KEEL_MONITOR_DIR: stateDir,
    };
    delete env.DATABASE_URL; // the embedded PostgreSQL, as a plain `pnpm start` has
    const job = startJob('pnpm', ['start'], { cwd: example, env });
    // The listening line and the database line can come in separate chunks: wait for both.
    const { base, databaseUrl } = await job.waitForOutput(
      'the listening and database lines',
      (output) => {
        const listening = /listening on (http:\/\/\S+)/.exec(output);
        const database = /postgres: embedded \(no DATABASE_URL set\) at (\S+)/.exec(output);
        if (!listening || !database) return undefined;
        return { base: listening[1]!.replace('localhost', '127.0.0.1'), databaseUrl: database[1]! };
      },
      90_000,
    );
    expect((await fetch(`${base}/api/db/users/1`)).status).toBe(200);

    // Requests in flight when the signal comes: one that holds the drain open, one on the database.
    const slow = fetch(`${base}/demo/slow?ms=1500`);
    const query = fetch(`${base}/demo/slow-query?ms=150`);
    await new Promise((r) => setTimeout(r, 50));
    const signalled = job.output().length;
    job.signal('SIGINT');

    const [slowAnswer, queryAnswer] = await Promise.all([slow, query]);
    expect(queryAnswer.status).toBe(200); // the database was up while the app drained
    expect(slowAnswer.status).toBe(200);
    expect(await job.exited).toEqual({ code: 0, signal: null });

    const after = job.output().slice(signalled);
    // The documented order: readiness off and drain first, the database last.
    const draining = after.indexOf('studio-api: shutting down');
    const stopped = after.indexOf('postgres: embedded server stopped');
    expect(draining).toBeGreaterThanOrEqual(0);
    expect(stopped).toBeGreaterThan(draining);
    expect(await reachable(databaseUrl!)).toBe(false);
    // Quiet: nothing a user would read as a crash.
    expect(after).not.toMatch(/terminating connection|ERR_PNPM|ELIFECYCLE|Command failed|Error/);
    console.log(`after Ctrl-C, pnpm start printed:\n${after.trim()}`);
    rmSync(stateDir, { recursive: true, force: true });
  }, 150_000);
});

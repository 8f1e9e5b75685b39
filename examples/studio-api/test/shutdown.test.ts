import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

// The example as `pnpm start` runs it (tsx, its own PostgreSQL: DATABASE_URL
// or an embedded one), stopped the way Kubernetes stops a pod. The root
// tsconfig maps @keel/* to the sources, like every other test: no build needed.
const root = fileURLToPath(new URL('..', import.meta.url));
const tsx = fileURLToPath(new URL('../node_modules/.bin/tsx', import.meta.url));
const sources = fileURLToPath(new URL('../../../tsconfig.json', import.meta.url));
let child: ChildProcess | undefined;

afterEach(() => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
});

function start(): Promise<{ base: string; output: () => string }> {
  child = spawn(tsx, ['--tsconfig', sources, 'src/main.ts'], {
    cwd: root,
    env: { ...process.env, PORT: '0', KEEL_PRESTOP_MS: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`studio-api did not start:\n${output}`)), 60_000);
    child!.stdout!.on('data', () => {
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve({ base: match[1]!.replace('localhost', '127.0.0.1'), output: () => output });
      }
    });
    child!.once('exit', (code) => reject(new Error(`studio-api exited with ${code}:\n${output}`)));
  });
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

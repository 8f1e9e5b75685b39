import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// `pnpm test` starts with scripts/preflight.mjs: on a machine without a tool the tests
// drive, it stops at once with one line that says what to install.
const preflight = fileURLToPath(new URL('../preflight.mjs', import.meta.url));

function run(env: NodeJS.ProcessEnv) {
  const started = performance.now();
  const result = spawnSync(process.execPath, [preflight], { env, encoding: 'utf8' });
  return { ...result, ms: performance.now() - started };
}

describe('pnpm test preflight', () => {
  it('on this machine: passes, and says in one line what the tests will use', () => {
    const { status, stdout, stderr } = run(process.env);
    expect(stderr).toBe('');
    expect(status).toBe(0);
    expect(stdout.trim().split('\n')).toHaveLength(1);
    expect(stdout).toMatch(/Chromium at \/usr\/bin\/chromium, promtool and Prometheus, PostgreSQL: /);
  });

  it('without promtool on the PATH: one line naming it and the apt-get line, exit 1, within a second', () => {
    const { status, stdout, stderr, ms } = run({ ...process.env, PATH: '/nonexistent' });
    expect(status).toBe(1);
    expect(stdout).toBe('');
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(/lacks promtool and \/usr\/bin\/prometheus: .*apt-get install -y prometheus/);
    expect(ms).toBeLessThan(1000);
  });
});

import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { run } from '@keel/cli';
import { describe, expect, it } from 'vitest';

// deploy/ holds what `pnpm generate` writes from keel.config.ts; CI fails when the two drift.
const root = fileURLToPath(new URL('..', import.meta.url));
const promtool = spawnSync('promtool', ['--version']).status === 0;
if (!promtool && process.env.CI) throw new Error('promtool is missing: apt-get install -y prometheus');
if (!promtool)
  console.warn(
    'skipped: promtool on the committed rules — promtool is missing (apt-get install -y prometheus)',
  );

async function keel(...args: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const code = await run(args, { stdout: (t) => (out += t), stderr: (t) => (out += t), cwd: root });
  return { code, out };
}

describe('studio-api deploy/: generated from keel.config.ts and up to date', () => {
  it.each([
    [['rules']],
    [['rules', '--format', 'prometheus-operator']],
    [['k8s']],
    [['dashboard', '--grafana']],
    [['slo', 'export']],
  ])('keel %s --check', async (args) => {
    const { code, out } = await keel(...args, '--check');
    expect(code, out).toBe(0);
    expect(out).toMatch(/^up-to-date +deploy\//m);
  });

  it.skipIf(!promtool)(
    'the committed rules pass promtool check rules and their own promtool tests',
    () => {
      const cwd = `${root}deploy/prometheus`;
      const check = spawnSync('promtool', ['check', 'rules', 'keel-rules.yaml'], { cwd, encoding: 'utf8' });
      expect(check.status, check.stdout + check.stderr).toBe(0);
      expect(check.stdout + check.stderr).not.toMatch(/warn/i);
      const test = spawnSync(
        'promtool',
        ['test', 'rules', 'keel-rules.page.test.yaml', 'keel-rules.ticket.test.yaml'],
        {
          cwd,
          encoding: 'utf8',
        },
      );
      expect(test.status, test.stdout + test.stderr).toBe(0);
    },
    120_000,
  );
});

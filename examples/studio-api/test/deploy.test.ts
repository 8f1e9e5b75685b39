import { fileURLToPath } from 'node:url';
import { run } from '@keel/cli';
import { describe, expect, it } from 'vitest';
import { expectRulesPass, promtoolAvailable } from '../../../scripts/test/support/promtool.js';

// deploy/ holds what `pnpm generate` writes from keel.config.ts; CI fails when the two drift.
const root = fileURLToPath(new URL('..', import.meta.url));
const promtool = promtoolAvailable('promtool on the committed rules');

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
    () => expectRulesPass(`${root}deploy/prometheus`),
    120_000,
  );
});

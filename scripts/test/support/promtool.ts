import { spawnSync } from 'node:child_process';
import { expect } from 'vitest';

/**
 * Whether Debian's promtool (package `prometheus`) runs here. CI installs it
 * (.ci/run), so there its absence is an error, never a silent skip; elsewhere
 * the caller skips, and this says once what was skipped.
 */
export function promtoolAvailable(skipped: string): boolean {
  if (spawnSync('promtool', ['--version']).status === 0) return true;
  if (process.env.CI) throw new Error('promtool is missing: apt-get install -y prometheus');
  console.warn(`skipped: ${skipped} — promtool is missing (apt-get install -y prometheus)`);
  return false;
}

/** Runs promtool in `cwd`; fails the test, with what promtool said, unless it exits 0. Returns its output. */
export function promtool(cwd: string | undefined, args: string[], input?: string): string {
  const result = spawnSync('promtool', args, { cwd, input, encoding: 'utf8' });
  const said = result.stdout + result.stderr;
  expect(result.status, said).toBe(0);
  return said;
}

/** The files `keel rules` writes: the rules and their own tests, paging and ticket alerts. */
export const RULE_TESTS = ['keel-rules.page.test.yaml', 'keel-rules.ticket.test.yaml'];

/**
 * `promtool check rules` on `keel-rules.yaml` in `dir`, with no warning, and
 * `promtool test rules` on the tests `keel rules` wrote beside it.
 */
export function expectRulesPass(dir: string): void {
  expect(promtool(dir, ['check', 'rules', 'keel-rules.yaml'])).not.toMatch(/warn/i);
  promtool(dir, ['test', 'rules', ...RULE_TESTS]);
}

/** `promtool check metrics` on a `/metrics` text: passes only when it exits 0 with nothing to say. */
export function expectMetricsPassLint(text: string): void {
  expect(promtool(undefined, ['check', 'metrics'], text)).toBe('');
}

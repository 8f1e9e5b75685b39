import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const packageDir = fileURLToPath(new URL('..', import.meta.url));

/**
 * A process that does what startup does by chance: a full GC while no tick
 * object is alive, between two bursts of ticks. It then prints V8's feedback
 * for `process.nextTick`, whose tick-object literal has one feedback slot per key.
 * The child imports the built package, as an app would (the test command builds first).
 */
function tickLiteralFeedback(withKeel: boolean): string[] {
  const script = `
    ${withKeel ? "import { createKeel } from '@keel/core'; const keel = createKeel({ runtime: false });" : ''}
    const tick = () => new Promise((resolve) => process.nextTick(resolve));
    for (let i = 0; i < 2000; i++) await tick();
    await new Promise((resolve) => setTimeout(resolve, 20));
    gc();
    gc();
    for (let i = 0; i < 2000; i++) await tick();
    new Function('f', '%DebugPrint(f)')(process.nextTick);
    ${withKeel ? 'await keel.close();' : ''}
  `;
  const result = spawnSync(
    process.execPath,
    ['--allow-natives-syntax', '--expose-gc', '--input-type=module', '-e', script],
    { cwd: packageDir, encoding: 'utf8' },
  );
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  return [...result.stdout.matchAll(/DefineKeyedOwnPropertyInLiteral (\w+)/g)].map((m) => m[1]!);
}

// Node 20's nextTick and V8 11.3; other versions may build tick objects differently.
const node20 = process.versions.node.startsWith('20.');

/** Node's async-hooks switches in a process that made a Keel (or did not), after one tick. */
function asyncHookSwitches(withKeel: boolean): string {
  const script = `
    ${withKeel ? "import { createKeel } from '@keel/core'; const keel = createKeel({ runtime: false });" : ''}
    await new Promise((resolve) => setImmediate(resolve));
    const { async_hook_fields: f, constants: c } = process.binding('async_wrap');
    console.log([f[c.kUsesExecutionAsyncResource], f[c.kTotals], f[c.kCheck]].join(','));
    ${withKeel ? 'await keel.close();' : ''}
  `;
  const result = spawnSync(process.execPath, ['--no-deprecation', '--input-type=module', '-e', script], {
    cwd: packageDir,
    encoding: 'utf8',
  });
  expect(result.stderr).toBe('');
  return result.stdout.trim();
}

describe.runIf(node20)('tick-object shapes', () => {
  it("leaves Node's async hooks as they were: no hook, no callback trampoline for every native callback", () => {
    expect(asyncHookSwitches(true)).toBe(asyncHookSwitches(false));
  });

  it('without Keel, a full GC with no tick alive turns nextTick megamorphic (the failure Keel prevents)', () => {
    expect(tickLiteralFeedback(false)).toContain('MEGAMORPHIC');
  });

  it('with Keel, nextTick keeps building tick objects in optimized code after the same GC', () => {
    const states = tickLiteralFeedback(true);
    expect(states).toHaveLength(4);
    expect(new Set(states)).toEqual(new Set(['MONOMORPHIC']));
  });
});

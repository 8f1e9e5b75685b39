// `pnpm bench` for @keel/core: runs every benchmark in one process and
// prints a report. Needs `--expose-gc` (the package script passes it) and a
// fresh `dist/` (the root script builds first).
//
// Exit code: 0 whatever the numbers say; 1 only if a benchmark crashed.

import { cpus } from 'node:os';
import { benchBreaker } from './breaker.mjs';
import { benchMemory } from './memory.mjs';
import { benchRecord } from './record.mjs';
import { benchRender } from './render.mjs';

async function main() {
  if (typeof globalThis.gc !== 'function') {
    console.warn(
      'warning: run with `node --expose-gc` (as `pnpm bench` does); without it GC noise leaks between variants.',
    );
  }
  const cpu = cpus();
  console.log(
    `@keel/core benchmarks: Node ${process.version}, ${process.platform}/${process.arch}, ${cpu.length} x ${cpu[0]?.model ?? 'unknown CPU'}`,
  );
  console.log(
    'Variants alternate in one process; figures are medians of the rounds; "vs X" is median / X\'s median.',
  );

  const started = process.hrtime.bigint();
  const record = await benchRecord();
  const render = await benchRender();
  await benchMemory();
  await benchBreaker();

  const goals = { ...record.goals, ...render.goals };
  const missed = Object.entries(goals)
    .filter(([, met]) => !met)
    .map(([name]) => name);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  console.log(
    `\nGoals met: ${Object.keys(goals).length - missed.length}/${Object.keys(goals).length}` +
      `${missed.length ? ` (not met: ${missed.join(', ')})` : ''}. Took ${seconds.toFixed(1)} s.`,
  );
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});

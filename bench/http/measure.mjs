// What run.mjs and same-process.mjs share: settings from the environment,
// pinning, a process's CPU time, and medians.

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/** A positive integer from the environment, or `fallback` when unset. */
export function intEnv(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer (got ${raw})`);
  return n;
}

/** Clock ticks per second of /proc/<pid>/stat's utime and stime (`getconf CLK_TCK`); 100 on Linux x64. */
export const CLK_TCK = intEnv('CLK_TCK', 100);

/**
 * Server on core 0, autocannon (this process) on core 1, so the two never take
 * each other's core and each variant gets the same whole core; without it the
 * split of two cores between them drifts from one process to the next, and the
 * server's CPU per request with it. PIN=0 turns it off.
 */
export const PIN =
  process.env.PIN !== '0' &&
  availableParallelism() >= 2 &&
  spawnSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' }).status === 0;

/** Moves this process (the load generator) to core 1 when pinning. */
export function pinLoadGenerator() {
  if (PIN) spawnSync('taskset', ['-a', '-c', '-p', '1', String(process.pid)], { stdio: 'ignore' });
}

/** The command and arguments that start `node ...nodeArgs` on core 0 when pinning. */
export function serverCommand(nodeArgs) {
  return PIN ? ['taskset', ['-c', '0', process.execPath, ...nodeArgs]] : [process.execPath, nodeArgs];
}

/** utime + stime of every thread of the process, in seconds. */
export function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Field 2, the command name, is in parentheses and may hold spaces: split after it.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state), so utime (field 14) is [11] and stime (15) is [12].
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../src/index.js';

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a `keel` command line in process, in `cwd`. */
export async function keel(args: readonly string[], cwd: string): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const code = await run(args, {
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    cwd,
  });
  return { code, stdout, stderr };
}

/** A fresh directory holding `files` (name → content; objects are written as JSON). */
export function project(files: Record<string, string | object>): string {
  const dir = mkdtempSync(join(tmpdir(), 'keel-cli-'));
  for (const [name, content] of Object.entries(files)) {
    writeFileSync(join(dir, name), typeof content === 'string' ? content : JSON.stringify(content));
  }
  return dir;
}

/** Budgets without browser beacons: fewer rules, so promtool's tests run quicker. */
export const SERVER_BUDGETS = { page_load: false, lcp: false, inp: false, cls: false } as const;

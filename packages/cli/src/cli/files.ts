import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import type { GeneratedFile } from './command.js';

/** What happened to one generated file: written or left as it was; with `--check`, up to date or not. */
export type FileStatus = 'written' | 'unchanged' | 'up-to-date' | 'stale' | 'missing';

export interface FileReport {
  /** Relative to the current directory. */
  readonly path: string;
  readonly status: FileStatus;
}

async function current(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * Writes generated files under `outDir`, or with `check` only compares them
 * with what is on disk. A file whose content is already right is not
 * rewritten, so its timestamp says when it last changed.
 */
export async function writeOrCheck(
  files: readonly GeneratedFile[],
  outDir: string,
  cwd: string,
  check: boolean,
): Promise<FileReport[]> {
  const reports: FileReport[] = [];
  for (const file of files) {
    const path = join(outDir, file.path);
    const near = relative(cwd, path);
    const shown = near && !near.startsWith('..') ? near : path;
    const before = await current(path);
    if (check) {
      reports.push({
        path: shown,
        status: before === undefined ? 'missing' : before === file.content ? 'up-to-date' : 'stale',
      });
      continue;
    }
    if (before === file.content) {
      reports.push({ path: shown, status: 'unchanged' });
      continue;
    }
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, file.content);
    reports.push({ path: shown, status: 'written' });
  }
  return reports;
}

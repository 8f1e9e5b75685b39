import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A directory on its own small file system, which a test can fill up or turn read-only. */
export interface FaultyDir {
  readonly dir: string;
  /** How the fault is made, for the test's output. */
  readonly how: string;
  readOnly(on: boolean): void;
  dispose(): void;
}

/**
 * Mounts a tmpfs of `bytes` (we run as root in CI and here): a real full
 * disk (ENOSPC) when filled, a real read-only file system (EROFS) when
 * remounted `ro`. Returns the reason instead when mounting is not possible
 * (not root, no CAP_SYS_ADMIN): without a file system of its own a test
 * could only fill the machine's real disk, which it must not.
 */
export function smallTmpfs(bytes: number): FaultyDir | string {
  const dir = mkdtempSync(join(tmpdir(), 'keel-fault-'));
  const mount = (...args: string[]) => execFileSync('mount', args, { stdio: 'pipe' });
  try {
    mount('-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', dir);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    const why = error instanceof Error ? error.message.split('\n')[0] : String(error);
    return `cannot mount a tmpfs (${why}); needs root with CAP_SYS_ADMIN`;
  }
  return {
    dir,
    how: `a ${Math.round(bytes / 1024)} KiB tmpfs mounted at ${dir}`,
    readOnly: (on) => mount('-o', `remount,${on ? 'ro' : 'rw'}`, dir),
    dispose: () => {
      try {
        execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

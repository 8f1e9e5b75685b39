import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { afterEach } from 'vitest';

/** A command started as a terminal starts a foreground job: the leader of a process group of its own. */
export interface ForegroundJob {
  readonly child: ChildProcess;
  /** Everything it printed so far, stdout and stderr as they came. */
  output(): string;
  /** Its exit, with the code or the signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends `signal` to the whole group, as a terminal does (Ctrl-C is SIGINT to the foreground group). */
  signal(signal: NodeJS.Signals): void;
  /**
   * Resolves with `read(output)` once that is not undefined; rejects, with the
   * output so far, after `ms` or when the job exits first.
   */
  waitForOutput<T>(what: string, read: (output: string) => T | undefined, ms: number): Promise<T>;
}

/**
 * Starts foreground jobs for the tests of this file. After each test every
 * group it started is SIGKILLed, so a failed test leaves no server behind.
 */
export function foregroundJobs(): (command: string, args: string[], options?: SpawnOptions) => ForegroundJob {
  const groups = new Set<number>();
  afterEach(() => {
    for (const pid of groups) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    groups.clear();
  });
  return (command, args, options = {}) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    if (child.pid !== undefined) groups.add(child.pid);
    let output = '';
    child.stdout!.on('data', (chunk) => (output += chunk));
    child.stderr!.on('data', (chunk) => (output += chunk));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    return {
      child,
      output: () => output,
      exited,
      signal: (signal) => process.kill(-child.pid!, signal),
      waitForOutput: (what, read, ms) =>
        new Promise((resolve, reject) => {
          const settle = () => {
            const value = read(output);
            if (value === undefined) return false;
            clearTimeout(timer);
            child.stdout!.off('data', check);
            child.stderr!.off('data', check);
            resolve(value);
            return true;
          };
          const check = () => void settle();
          const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}:\n${output}`)), ms);
          if (settle()) return;
          child.stdout!.on('data', check);
          child.stderr!.on('data', check);
          void exited.then(() => {
            if (!settle()) reject(new Error(`exited before ${what}:\n${output}`));
          });
        }),
    };
  };
}

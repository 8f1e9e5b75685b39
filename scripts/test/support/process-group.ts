import { afterEach } from 'vitest';

/**
 * The process group a test starts, as a terminal starts a foreground job
 * (`spawn(..., { detached: true })` makes the child its leader). After each
 * test the whole group still there is SIGKILLed, so a failed test leaves no
 * server behind; a test that ended the group itself sets `pid` back to undefined.
 */
export function foregroundJob(): { pid: number | undefined } {
  const job: { pid: number | undefined } = { pid: undefined };
  afterEach(() => {
    if (job.pid === undefined) return;
    try {
      process.kill(-job.pid, 'SIGKILL');
    } catch {
      // already gone
    }
    job.pid = undefined;
  });
  return job;
}

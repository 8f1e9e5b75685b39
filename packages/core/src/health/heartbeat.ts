import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import type { ErrorReporter } from '../errors.js';

/**
 * The last sign of life of a previous run, written to a file so a restart can
 * tell how long the service was gone. Reading happens once at startup;
 * writing is asynchronous and off the request path.
 */
export class Heartbeat {
  readonly #file: string;
  /** Writes run one at a time; beats that arrive meanwhile collapse into the next write. */
  #chain: Promise<void> = Promise.resolve();
  #next: Promise<void> | undefined;
  #latest = 0;
  #planned = false;
  readonly #errors: Pick<ErrorReporter, 'report'>;

  /** A failed write is reported (as `heartbeat`), never thrown to the app. */
  constructor(file: string, errors: Pick<ErrorReporter, 'report'>) {
    this.#file = file;
    this.#errors = errors;
  }

  /**
   * A heartbeat on `file`, its first beat written now. The previous run's
   * silence is handed to `addDowntime` (time not ready), capped at
   * `maxGapMs`, the longest window kept.
   */
  static start(
    file: string,
    errors: Pick<ErrorReporter, 'report'>,
    now: number,
    maxGapMs: number,
    addDowntime: (ms: number) => void,
  ): Heartbeat {
    const heartbeat = new Heartbeat(file, errors);
    addDowntime(Math.min(heartbeat.gapSince(now), maxGapMs));
    void heartbeat.beat(now);
    return heartbeat;
  }

  /**
   * Milliseconds since the previous run's last heartbeat; 0 when there was
   * none, or when that run ended with a planned shutdown (its last beat says
   * so): only a crash's or a kill's gap is downtime.
   */
  gapSince(now: number): number {
    try {
      const last = JSON.parse(readFileSync(this.#file, 'utf8')) as { at?: unknown; planned?: unknown };
      if (last.planned === true) return 0;
      return typeof last.at === 'number' && last.at < now ? now - last.at : 0;
    } catch {
      // No file (first start) or a torn write: nothing to count.
      return 0;
    }
  }

  /**
   * Records a sign of life; resolves once a write at least this recent is on
   * disk, or it failed. `planned`: the last beat of a planned shutdown.
   */
  beat(now: number, planned = false): Promise<void> {
    return this.#write(now, planned).catch((error) => this.#errors.report('heartbeat', error));
  }

  #write(now: number, planned: boolean): Promise<void> {
    this.#latest = now;
    this.#planned = planned;
    if (!this.#next) {
      const next = this.#chain.then(() => {
        this.#next = undefined;
        const beat = { at: this.#latest, pid: process.pid, ...(this.#planned ? { planned: true } : {}) };
        return writeFile(this.#file, JSON.stringify(beat));
      });
      this.#next = next;
      this.#chain = next.catch(() => {});
    }
    return this.#next;
  }
}

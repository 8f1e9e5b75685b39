import { mkdirSync } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock, TimerHandle } from '@keel/core';
import type { Incident } from './incident.js';

export interface PostMortemWriterDeps {
  readonly dir: string;
  readonly clock: Clock;
  /** Wait before retrying a failed write, doubled each time up to `maxRetryDelay`, ms. */
  readonly retryDelay: number;
  readonly maxRetryDelay: number;
  report(where: string, error: unknown): void;
  /** A post-mortem that failed before is on disk now: record it. */
  written(incident: Incident, path: string): void;
}

/**
 * Writes `<dir>/postmortems/<id>.md`: to a temporary name, fsync'd, then
 * renamed, so the path only ever names a whole file. A failed write is
 * retried with backoff until it succeeds or the monitor closes; until then
 * the incident says why it is not written (`postMortemError`), never a path.
 */
export class PostMortemWriter {
  readonly #deps: PostMortemWriterDeps;
  readonly #retrying = new Map<Incident, { attempts: number; timer: TimerHandle | undefined }>();
  readonly #writes = new Set<Promise<unknown>>();
  #closed = false;

  constructor(deps: PostMortemWriterDeps) {
    this.#deps = deps;
  }

  /** Creates `postmortems/` at startup, so a directory that cannot hold it fails fast. */
  prepare(): void {
    mkdirSync(join(this.#deps.dir, 'postmortems'), { recursive: true });
  }

  pathOf(incident: Incident): string {
    return join(this.#deps.dir, 'postmortems', `${incident.id}.md`);
  }

  /** Post-mortems waiting for a retry. */
  get failing(): number {
    return this.#retrying.size;
  }

  /** Resolves `null` once the file is on disk, or the error's message. */
  async write(incident: Incident, text: string): Promise<string | null> {
    const attempt = this.#attempt(incident, text);
    this.#writes.add(attempt);
    try {
      const error = await attempt;
      if (error !== null) this.#retryLater(incident, text);
      return error;
    } finally {
      this.#writes.delete(attempt);
    }
  }

  /** Resolves when no write is in flight (retries waiting on their timer aside). */
  async settled(): Promise<void> {
    while (this.#writes.size > 0) await Promise.all([...this.#writes]);
  }

  close(): void {
    this.#closed = true;
    for (const { timer } of this.#retrying.values())
      if (timer !== undefined) this.#deps.clock.clearTimeout(timer);
    this.#retrying.clear();
  }

  async #attempt(incident: Incident, text: string): Promise<string | null> {
    const path = this.pathOf(incident);
    const temporary = `${path}.tmp`;
    try {
      await mkdir(join(this.#deps.dir, 'postmortems'), { recursive: true });
      const handle = await open(temporary, 'w');
      try {
        await handle.writeFile(text);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temporary, path);
      return null;
    } catch (error) {
      await rm(temporary, { force: true }).catch(() => {});
      if (!this.#retrying.has(incident)) this.#deps.report('post-mortem', error);
      return error instanceof Error ? error.message : String(error);
    }
  }

  #retryLater(incident: Incident, text: string): void {
    if (this.#closed) return;
    const state = this.#retrying.get(incident) ?? { attempts: 0, timer: undefined };
    state.attempts++;
    this.#retrying.set(incident, state);
    const wait = Math.min(this.#deps.retryDelay * 2 ** (state.attempts - 1), this.#deps.maxRetryDelay);
    state.timer = this.#deps.clock.setTimeout(() => {
      state.timer = undefined;
      const attempt = this.#attempt(incident, text).then((error) => {
        if (error === null) {
          this.#retrying.delete(incident);
          this.#deps.written(incident, this.pathOf(incident));
        } else this.#retryLater(incident, text);
      });
      this.#writes.add(attempt);
      void attempt.finally(() => this.#writes.delete(attempt));
    }, wait);
  }
}

import { KeelError, KeelErrorCode } from '../errors.js';

export interface Cleanup {
  readonly name: string;
  readonly fn: () => unknown;
}

/** What graceful shutdown runs after in-flight requests drained (close a pool, flush a queue). */
export class CleanupList {
  readonly #cleanups: Cleanup[] = [];

  /** Registers `fn`; returns a function that removes it. */
  add(fn: () => unknown, name: string): () => void {
    if (typeof fn !== 'function')
      throw new KeelError(KeelErrorCode.InvalidOption, 'onShutdown: `fn` must be a function.');
    const entry = { name, fn };
    this.#cleanups.push(entry);
    return () => {
      const i = this.#cleanups.indexOf(entry);
      if (i >= 0) this.#cleanups.splice(i, 1);
    };
  }

  /** The registered cleanups, oldest first (a copy). */
  list(): { name: string; fn: () => unknown }[] {
    return this.#cleanups.slice();
  }
}

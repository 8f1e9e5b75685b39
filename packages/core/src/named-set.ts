import { KeelError, KeelErrorCode } from './errors.js';

/**
 * Things an instance makes by name (caches, breakers): names are unique per
 * instance, since metrics and reports tell them apart by it.
 */
export class NamedSet<T extends { readonly name: string }> {
  readonly #items = new Map<string, T>();
  readonly #who: string;
  readonly #option: string;

  /** `who` and `option` name the API and its option in the error for a name in use. */
  constructor(who: string, option: string) {
    this.#who = who;
    this.#option = option;
  }

  /** Throws `KEEL_INVALID_OPTION` if `name` is in use; anything not a string is left to the maker to judge. */
  checkFree(name: unknown): void {
    if (typeof name === 'string' && this.#items.has(name)) {
      throw new KeelError(
        KeelErrorCode.InvalidOption,
        `${this.#who}: option \`${this.#option}\` must be unique; "${name}" is taken.`,
      );
    }
  }

  add(item: T): T {
    this.#items.set(item.name, item);
    return item;
  }

  /** A fresh array, oldest first. */
  list(): T[] {
    return [...this.#items.values()];
  }

  values(): IterableIterator<T> {
    return this.#items.values();
  }
}

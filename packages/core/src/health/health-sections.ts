import { type ErrorReporter, KeelError, KeelErrorCode } from '../errors.js';
import { RESERVED_HEALTH_KEYS } from './report.js';

/**
 * Top-level sections other packages add to the `/health` JSON (the
 * monitor's, incidents), each rendered on demand by its own function.
 */
export class HealthSections {
  readonly #sections = new Map<string, () => unknown>();
  readonly #errors: ErrorReporter;

  constructor(errors: ErrorReporter) {
    this.#errors = errors;
  }

  get size(): number {
    return this.#sections.size;
  }

  /** Validates and registers a section; returns its remover. */
  add(name: string, render: () => unknown): () => void {
    if (typeof name !== 'string' || !/^[A-Za-z][\w]{0,63}$/.test(name) || RESERVED_HEALTH_KEYS.has(name)) {
      throw new KeelError(
        KeelErrorCode.InvalidOption,
        `addHealthSection: \`name\` must be 1-64 letters, digits or "_", starting with a letter, and not one of /health's own keys (${[...RESERVED_HEALTH_KEYS].join(', ')}).`,
      );
    }
    if (typeof render !== 'function') {
      throw new KeelError(
        KeelErrorCode.InvalidOption,
        `addHealthSection(${name}): \`render\` must be a function.`,
      );
    }
    if (this.#sections.has(name)) {
      throw new KeelError(
        KeelErrorCode.InvalidOption,
        `addHealthSection: a section named "${name}" is already registered.`,
      );
    }
    this.#sections.set(name, render);
    return () => {
      if (this.#sections.get(name) === render) this.#sections.delete(name);
    };
  }

  /** Every section, rendered now; a throwing one is reported and reads `null`. */
  render(): Readonly<Record<string, unknown>> {
    const out: Record<string, unknown> = {};
    for (const [name, render] of this.#sections) {
      try {
        out[name] = render();
      } catch (error) {
        this.#errors.report(`health-section:${name}`, error, KeelErrorCode.CallbackFailed);
        out[name] = null;
      }
    }
    return Object.freeze(out);
  }
}

import { invalidOptionOf, type KeelError } from '../errors.js';

export type Check = (value: unknown) => boolean;

export const isPositiveInteger: Check = (v) => Number.isInteger(v) && (v as number) > 0;
export const isPositiveNumber: Check = (v) => typeof v === 'number' && Number.isFinite(v) && v > 0;
export const isNonEmptyString: Check = (v) => typeof v === 'string' && v.length > 0;

/** Reads the options of one config-file section, failing with errors that name the key and the rule. */
export class OptionReader {
  readonly #who: string;

  constructor(who: string) {
    this.#who = who;
  }

  fail(path: string, rule: string, got: unknown): KeelError {
    return invalidOptionOf(this.#who, path, rule, got);
  }

  read<T>(path: string, value: unknown, fallback: T, valid: Check, rule: string): T {
    if (value === undefined) return fallback;
    if (!valid(value)) throw this.fail(path, rule, value);
    return value as T;
  }

  object(path: string, value: unknown): Record<string, unknown> {
    if (value === undefined) return {};
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw this.fail(path, 'must be an object', value);
    }
    return value as Record<string, unknown>;
  }

  /** Rejects a key not in `known`, naming it and the keys that are. */
  known(path: string, value: Record<string, unknown>, known: readonly string[]): void {
    for (const key of Object.keys(value)) {
      if (!known.includes(key)) {
        throw this.fail(
          path ? `${path}.${key}` : key,
          `is not a known option (known: ${known.join(', ')})`,
          value[key],
        );
      }
    }
  }

  /** A `{ name: value }` map of label matchers or labels: Prometheus label names, string values. */
  labels(path: string, value: unknown, fallback: Record<string, string>): Readonly<Record<string, string>> {
    if (value === undefined) return Object.freeze({ ...fallback });
    const o = this.object(path, value);
    for (const [name, v] of Object.entries(o)) {
      if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(name) || name.startsWith('__'))
        throw this.fail(`${path}.${name}`, 'needs a Prometheus label name (letters, digits, "_")', name);
      if (typeof v !== 'string') throw this.fail(`${path}.${name}`, 'must be a string', v);
    }
    return Object.freeze({ ...(o as Record<string, string>) });
  }
}

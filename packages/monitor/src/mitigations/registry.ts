import { KeelError, KeelErrorCode } from '@keel/core';
import type { Measurement } from '../measure.js';
import { checkMitigation, type Mitigation } from './mitigation.js';

const HOUR = 3_600_000;

/** A mitigation applied and kept: still in effect. */
export interface ActiveMitigation {
  readonly mitigation: Mitigation;
  readonly appliedAt: number;
  readonly before: Measurement;
}

/**
 * The mitigations the monitor may take, by priority, and what it has done
 * with them: when each was last applied (cooldowns), the applies of the last
 * hour (the cap) and the ones in effect.
 */
export class MitigationRegistry {
  readonly #mitigations: Mitigation[] = [];
  readonly #lastApplied = new Map<string, number>();
  readonly #appliedTimes: number[] = [];
  /** Kept mitigations, oldest first. */
  readonly active: ActiveMitigation[] = [];

  /** Adds a mitigation; names are unique. Throws `KEEL_INVALID_OPTION` on a malformed one. */
  register(mitigation: Mitigation): void {
    const problem = checkMitigation(mitigation);
    if (problem) throw new KeelError(KeelErrorCode.InvalidOption, `monitor.register: ${problem}.`);
    if (this.#mitigations.some((m) => m.name === mitigation.name))
      throw new KeelError(
        KeelErrorCode.InvalidOption,
        `monitor.register: a mitigation named "${mitigation.name}" is already registered.`,
      );
    this.#mitigations.push(mitigation);
    // Stable sort: equal priorities keep registration order.
    this.#mitigations.sort((a, b) => (a.priority ?? 50) - (b.priority ?? 50));
  }

  /** By priority, least harm first. */
  list(): readonly Mitigation[] {
    return this.#mitigations.slice();
  }

  isActive(m: Mitigation): boolean {
    return this.active.some((a) => a.mitigation === m);
  }

  lastApplied(name: string): number | undefined {
    return this.#lastApplied.get(name);
  }

  applied(name: string, at: number): void {
    this.#lastApplied.set(name, at);
    this.#appliedTimes.push(at);
  }

  /** Applies within the rolling hour before `now`. */
  appliesInLastHour(now: number): number {
    while (this.#appliedTimes.length && now - this.#appliedTimes[0]! >= HOUR) this.#appliedTimes.shift();
    return this.#appliedTimes.length;
  }
}

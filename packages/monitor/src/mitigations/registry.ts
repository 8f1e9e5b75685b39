import { type Keel, KeelError, KeelErrorCode } from '@keel/core';
import type { Measurement } from '../measure.js';
import { checkMitigation, type Mitigation } from './mitigation.js';

const HOUR = 3_600_000;

/** Why `m` cannot act now, or `null`; a throwing check counts as a reason. */
export function unavailableReason(m: Mitigation, keel: Keel): string | null {
  try {
    return m.unavailable?.(keel) ?? null;
  } catch (error) {
    keel.reportError(`mitigation:${m.name}`, error);
    return `its availability check failed: ${error instanceof Error ? error.message : String(error)}`;
  }
}

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
  /** Mitigations not offered, with why: a capability their target lacks, or a built-in left off. */
  readonly #notOffered: { readonly name: string; readonly reason: string }[] = [];
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
    if (mitigation.missing !== undefined) {
      this.notOffered(mitigation.name, mitigation.missing);
      return;
    }
    this.#mitigations.push(mitigation);
    // Stable sort: equal priorities keep registration order.
    this.#mitigations.sort((a, b) => (a.priority ?? 50) - (b.priority ?? 50));
  }

  /** Records a mitigation that is not offered, and why (shown in `/health`). */
  notOffered(name: string, reason: string): void {
    this.#notOffered.push({ name, reason });
  }

  /**
   * Every mitigation with whether it can act now and, if not, why: the
   * registered ones by priority, then the ones not offered.
   */
  availability(
    keel: Keel,
  ): { name: string; priority: number | null; available: boolean; reason: string | null }[] {
    const registered = this.#mitigations.map((m) => {
      const reason = unavailableReason(m, keel);
      return { name: m.name, priority: m.priority ?? 50, available: reason === null, reason };
    });
    const off = this.#notOffered.map((n) => ({
      name: n.name,
      priority: null,
      available: false,
      reason: n.reason,
    }));
    return [...registered, ...off];
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

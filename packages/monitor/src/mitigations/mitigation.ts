import type { HealthReport, Keel } from '@keel/core';
import { checkKnownKeys, invalidOptionOf } from '@keel/core';
import type { Analysis } from '../measure.js';

/** What a mitigation sees when it is judged, applied or rolled back. */
export interface MitigationContext {
  readonly keel: Keel;
  /** The evaluation the decision is based on. */
  readonly report: HealthReport;
  readonly analysis: Analysis;
  /** Why the cycle runs, e.g. `budget api_latency breached`. */
  readonly reason: string;
  /** Resolves once everything the monitor recorded so far is on disk (before an exit, say). */
  flush(): Promise<void>;
}

/**
 * One action the monitor may take, with its way back. Built-ins and your own
 * register the same way (`monitor.register(...)`).
 */
export interface Mitigation {
  /** Unique: 1-64 letters, digits, "_", "." or "-". */
  readonly name: string;
  /** One line for `/health`, events and the post-mortem. */
  readonly description?: string;
  /**
   * Lower is tried first. Built-ins: serve-stale 10, open-circuit 20,
   * pool 30, shed-load 40, readiness-off 80, graceful-restart 90.
   * @default 50
   */
  readonly priority?: number;
  /** After it was applied, it is not applied again for this long, ms. @default the monitor's `cooldown` */
  readonly cooldown?: number;
  /**
   * Set by a factory whose target lacks what the mitigation needs (`'the pool
   * has no resize(max)'`): such a mitigation is not registered, so it is
   * never reported as taken; `/health` lists it with this reason.
   * @default undefined: it can act
   */
  readonly missing?: string | undefined;
  /**
   * Why it has nothing to act on right now (`'no cache holds entries'`), or
   * `null` when it can act. The monitor skips it meanwhile; `/health` shows
   * the reason. @default always available
   */
  unavailable?(keel: Keel): string | null;
  /**
   * Whether it can help now. The monitor skips it when this returns `false`.
   * @default always
   */
  applicable?(ctx: MitigationContext): boolean;
  /** Takes the action. May return a line saying what it did (`shedding 100 % of non-critical routes`). */
  apply(ctx: MitigationContext): unknown;
  /**
   * Undoes `apply`. Without it the mitigation is irreversible: when it does
   * not help it is recorded as such and left in place.
   */
  rollback?(ctx: MitigationContext): unknown;
}

const NAME = /^[\w.-]{1,64}$/;

/** Checks a mitigation's shape at registration, so a typo fails at startup, not mid-incident. */
export function checkMitigation(m: Mitigation): string | null {
  if (typeof m !== 'object' || m === null) return 'must be an object';
  if (typeof m.name !== 'string' || !NAME.test(m.name))
    return '`name` must be 1-64 letters, digits, "_", "." or "-"';
  if (typeof m.apply !== 'function') return `"${m.name}": \`apply\` must be a function`;
  if (m.rollback !== undefined && typeof m.rollback !== 'function')
    return `"${m.name}": \`rollback\` must be a function`;
  if (m.applicable !== undefined && typeof m.applicable !== 'function')
    return `"${m.name}": \`applicable\` must be a function`;
  if (m.unavailable !== undefined && typeof m.unavailable !== 'function')
    return `"${m.name}": \`unavailable\` must be a function`;
  if (m.missing !== undefined && typeof m.missing !== 'string')
    return `"${m.name}": \`missing\` must be a string`;
  if (m.priority !== undefined && !Number.isFinite(m.priority))
    return `"${m.name}": \`priority\` must be a number`;
  if (m.cooldown !== undefined && !(Number.isSafeInteger(m.cooldown) && m.cooldown >= 0))
    return `"${m.name}": \`cooldown\` must be an integer >= 0 (ms)`;
  return null;
}

/**
 * Checks the options object a mitigation factory was given: an object, and
 * no key it does not know (a typo fails at startup, naming the option).
 */
export function checkFactoryOptions(who: string, options: unknown, known: readonly string[]): void {
  if (typeof options !== 'object' || options === null || Array.isArray(options))
    throw invalidOptionOf(who, '', 'must be an object', options);
  checkKnownKeys(options, new Set(known), (key, rule, got) => invalidOptionOf(who, key, rule, got));
}

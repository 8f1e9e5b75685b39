import type { Measurement } from '../measure.js';
import type { Mitigation } from '../mitigations/mitigation.js';
import type { MonitorConfig } from '../options.js';
import type { CycleHost } from './cycle-host.js';
import type { StepKind } from './cycle-state.js';

/** The verdict on a mitigation on trial, from its measured before and after. */
export interface Verdict {
  readonly improved: boolean;
  /** The measured effect, in words. */
  readonly effect: string;
}

/** Kept when the score rose by `minImprovement`, or came back to healthy. */
export function judge(
  before: Measurement,
  after: Measurement,
  healthyNow: boolean,
  config: Pick<MonitorConfig, 'minImprovement' | 'healthyScore'>,
): Verdict {
  const gain = Math.round((after.score - before.score) * 100) / 100;
  const improved = gain >= config.minImprovement || (healthyNow && before.score < config.healthyScore);
  const effect = `score ${before.score} → ${after.score} (${gain >= 0 ? '+' : ''}${gain}), p95 ${before.p95 ?? '—'} → ${after.p95 ?? '—'} ms`;
  return { improved, effect };
}

/**
 * Measures the mitigation on trial and keeps it, rolls it back, or records
 * that it did not help and cannot be undone; then the cycle acts again.
 */
export async function validate(host: CycleHost, m: Mitigation): Promise<void> {
  const cycle = host.cycle;
  const current = cycle?.current;
  if (!cycle || !current || host.standingDown) return;
  cycle.current = null;
  cycle.phase = 'acting';
  const after = host.measure(host.latest);
  const { before, appliedAt, detail } = current;
  const { improved, effect } = judge(before, after, host.healthy(host.latest), host.config);
  // The step kind doubles as the incident action's outcome.
  let kind: StepKind;
  let text: string;
  if (improved) {
    host.registry.active.push({ mitigation: m, appliedAt, before });
    kind = 'kept';
    text = effect;
  } else if (m.rollback) {
    try {
      await m.rollback(host.context(host.latest, cycle.trigger));
      kind = 'rolled-back';
      text = `did not help: ${effect}`;
    } catch (error) {
      host.keel.reportError(`mitigation:${m.name}`, error);
      kind = 'rollback-failed';
      text = error instanceof Error ? error.message : String(error);
    }
  } else {
    kind = 'not-helpful';
    text = `did not help and cannot be undone: ${effect}`;
  }
  host.step(kind, m.name, text, before, after);
  host.incidents.action({
    mitigation: m.name,
    appliedAt,
    validatedAt: host.now(),
    outcome: kind,
    before,
    after,
    detail,
  });
  await host.act();
}

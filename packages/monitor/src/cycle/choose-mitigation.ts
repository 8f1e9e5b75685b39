import { formatDuration } from '../incidents/post-mortem.js';
import type { Mitigation, MitigationContext } from '../mitigations/mitigation.js';
import { unavailableReason } from '../mitigations/registry.js';
import type { CycleHost } from './cycle-host.js';
import type { CycleState } from './cycle-state.js';

/**
 * The mitigations that may be applied now, best first: not tried in this
 * cycle, not in effect, out of their cooldown, and applicable to what the
 * evaluation says. A throwing `applicable` counts as "no" and is reported.
 */
export function candidates(host: CycleHost, cycle: CycleState, ctx: MitigationContext): Mitigation[] {
  const now = host.now();
  return host.registry.list().filter((m) => {
    if (cycle.tried.includes(m.name) || host.registry.isActive(m)) return false;
    // The last resort is kept for when nothing else helped (escalation).
    if (m.name === host.config.escalation.lastResort) return false;
    if (unavailableReason(m, host.keel) !== null) return false;
    const last = host.registry.lastApplied(m.name);
    if (last !== undefined && now - last < (m.cooldown ?? host.config.cooldown)) return false;
    try {
      return m.applicable ? m.applicable(ctx) === true : true;
    } catch (error) {
      host.keel.reportError(`mitigation:${m.name}`, error);
      return false;
    }
  });
}

/**
 * One act of the cycle: the healthy ones stabilize; otherwise the best
 * candidate is applied (or recommended in dry run, or refused by the cap),
 * then validated `validateAfter` later. A throwing `apply` is recorded and
 * the next candidate is tried at once.
 */
export async function act(host: CycleHost, validate: (m: Mitigation) => Promise<void>): Promise<void> {
  const cycle = host.cycle;
  if (!cycle || host.standingDown) return;
  const report = host.latest;
  const config = host.config;
  if (host.healthy(report)) {
    cycle.phase = 'stabilizing';
    cycle.stableSince = host.now();
    host.step(
      'stabilizing',
      null,
      `score ${report.score}; stable after ${formatDuration(config.stabilityWindow)}`,
      null,
      host.measure(report),
    );
    return;
  }
  const ctx = host.context(report, cycle.trigger, cycle.analysis);
  const found = candidates(host, cycle, ctx);
  let m = found[0];
  let again = '';
  if (!m) {
    // Nothing else is left: one that helped but refused most requests is tried again, as the last resort.
    const name = cycle.deferred.shift();
    const deferred = host.registry.list().find((x) => x.name === name);
    if (deferred && !host.registry.isActive(deferred)) {
      m = deferred;
      again = `again, as the last resort (it served users better but refuses most requests, and nothing else is left): `;
    }
  }
  if (!m) {
    host.step(
      'exhausted',
      null,
      `no applicable mitigation left (tried: ${cycle.tried.join(', ') || 'none'})`,
      null,
      host.measure(report),
    );
    host.end('exhausted');
    return;
  }
  if (config.dryRun) {
    cycle.recommendation = m.name;
    const others = found.slice(1).map((x) => x.name);
    host.step(
      'recommend',
      m.name,
      `dry run: would apply ${m.name}${m.description ? ` (${m.description})` : ''}; also applicable: ${others.join(', ') || 'none'}`,
      host.measure(report),
      null,
    );
    host.end('recommended');
    return;
  }
  const recent = host.registry.appliesInLastHour(host.now());
  if (recent >= config.maxActionsPerHour) {
    host.step(
      'capped',
      m.name,
      `${recent} actions in the last hour (cap ${config.maxActionsPerHour})`,
      null,
      null,
    );
    host.end('capped');
    return;
  }
  if (host.standingDown) return;
  if (!again) cycle.tried.push(m.name);
  const applied = await putOnTrial(host, cycle, m, ctx, { step: 'applied', prefix: again }, () =>
    validate(m),
  );
  if (!applied) return host.act();
}

/**
 * Applies `m` with the traffic "before" it, records the step and the
 * incident's pending action, and validates it `validateAfter` later.
 * Returns `false` when `apply` threw (recorded as `apply-failed`).
 */
export async function putOnTrial(
  host: CycleHost,
  cycle: CycleState,
  m: Mitigation,
  ctx: MitigationContext,
  how: { step: 'applied' | 'last-resort'; prefix: string; reason?: string; lastResort?: boolean },
  validate: () => Promise<void>,
): Promise<boolean> {
  const traffic = host.trafficBefore();
  const before = host.measure(ctx.report, traffic.rates);
  let detail: unknown;
  try {
    detail = await m.apply(ctx);
  } catch (error) {
    host.keel.reportError(`mitigation:${m.name}`, error);
    const message = error instanceof Error ? error.message : String(error);
    host.step('apply-failed', m.name, `${how.prefix}${message}`, before, null);
    host.incidents.action({
      mitigation: m.name,
      appliedAt: host.now(),
      validatedAt: null,
      outcome: 'failed',
      before,
      after: null,
      detail: message,
    });
    return false;
  }
  const appliedAt = host.now();
  host.registry.applied(m.name, appliedAt);
  const text = how.prefix + (typeof detail === 'string' ? detail : (m.description ?? ''));
  host.step(how.step, m.name, text, before, null);
  host.incidents.action({
    mitigation: m.name,
    appliedAt,
    validatedAt: null,
    outcome: 'pending',
    before,
    after: null,
    detail: text,
    ...(how.reason === undefined ? {} : { reason: how.reason }),
    ...(how.lastResort ? { lastResort: true } : {}),
  });
  cycle.phase = 'validating';
  host.validateLater(cycle, m.name, appliedAt, before, text, traffic.now, validate);
  return true;
}

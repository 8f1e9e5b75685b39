import type { Clock, TimerHandle } from '@keel/core';
import type { TriedMitigation } from '../incidents/incident.js';
import { type IncidentManager, unmitigatedReason } from '../incidents/incident-manager.js';
import { budgetBreached } from '../mitigations/http-breach.js';
import type { Mitigation } from '../mitigations/mitigation.js';
import { putOnTrial } from './choose-mitigation.js';
import type { CycleRunner } from './cycle-runner.js';
import type { CycleState } from './cycle-state.js';
import { validate } from './validation.js';

export interface EscalationDeps {
  readonly runner: CycleRunner;
  readonly incidents: IncidentManager;
  readonly clock: Clock;
  /** How long after a cycle gave up the monitor looks again, ms. */
  readonly recheckAfter: number;
  /** The mitigation applied when nothing else helped (`escalation.lastResort`), if any. */
  readonly lastResort: Mitigation | undefined;
}

/**
 * No stop while a breach persists. When a cycle has tried every mitigation
 * (or hit the hourly cap) and users are still not served well, the monitor
 * does not go quiet: the first time nothing helped, the incident's severity
 * goes up one step and people are told what was tried and measured, and the
 * configured last resort is applied; then it looks again every
 * `recheckAfter` (mitigations whose cooldown has passed are tried again)
 * until the budgets recover or a person acknowledges the incident.
 */
export class Escalation {
  readonly #deps: EscalationDeps;
  #timer: TimerHandle | undefined;
  #next: number | null = null;
  #closed = false;

  constructor(deps: EscalationDeps) {
    this.#deps = deps;
  }

  /** When the next re-check runs (epoch ms), or `null`. */
  get nextRecheck(): number | null {
    return this.#next;
  }

  cycleEnded(cycle: CycleState): void {
    const { runner, incidents } = this.#deps;
    if (this.#closed || runner.standingDown) return;
    if (cycle.outcome !== 'exhausted' && cycle.outcome !== 'capped') return;
    const incident = incidents.open;
    if (incident?.acknowledged) return;
    const unhealthy = !runner.healthy(runner.latest);
    // Escalation (severity up, the last resort) is for a broken promise to users: a budget in
    // breach. A score below healthy with every budget met (a busy event loop under a load test)
    // is looked at again, but draining the instance or paging louder would only hurt (0026).
    if (
      budgetBreached(runner.latest) &&
      cycle.outcome === 'exhausted' &&
      cycle.kept.length === 0 &&
      incident
    ) {
      const tried: TriedMitigation[] = incident.actions
        .filter((a) => a.outcome !== 'pending')
        .map((a) => ({ mitigation: a.mitigation, outcome: a.outcome, reason: a.reason ?? a.detail }));
      // With nothing applicable at all, the first re-check (not the opening) says so: one message, not two at once.
      const due = tried.length > 0 || runner.now() - incident.openedAt >= this.#deps.recheckAfter;
      if (due && incidents.unmitigated(tried, runner.latest.score)) {
        runner.step('escalated', null, unmitigatedReason(tried), null, runner.measure(runner.latest));
        const m = this.#deps.lastResort;
        if (m && !runner.registry.isActive(m)) runner.enqueue(() => applyLastResort(runner, m));
      }
    }
    if (unhealthy || incident || runner.registry.active.length > 0) this.#schedule();
  }

  /** A person took the incident over: no more re-checks for it. */
  acknowledged(): void {
    this.#cancel();
  }

  close(): void {
    this.#closed = true;
    this.#cancel();
  }

  #schedule(): void {
    this.#cancel();
    const { clock, recheckAfter } = this.#deps;
    this.#next = clock.now() + recheckAfter;
    this.#timer = clock.setTimeout(() => {
      this.#timer = undefined;
      this.#next = null;
      this.#recheck();
    }, recheckAfter);
  }

  #recheck(): void {
    const { runner, incidents } = this.#deps;
    if (this.#closed || runner.standingDown || runner.cycle) return;
    const incident = incidents.open;
    if (incident?.acknowledged) return;
    if (!incident && runner.registry.active.length === 0 && runner.healthy(runner.latest)) return;
    runner.trigger(
      incident ? `recheck: incident ${incident.id} is still open` : 'recheck: mitigations still in effect',
    );
  }

  #cancel(): void {
    if (this.#timer !== undefined) this.#deps.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#next = null;
  }
}

/**
 * The configured last resort, once per incident, when nothing else helped:
 * applied in a cycle of its own and validated like any mitigation, so it is
 * kept only when users were measurably served better (and then said to be a
 * last resort), rolled back otherwise: it never stays on by assumption.
 */
async function applyLastResort(runner: CycleRunner, m: Mitigation): Promise<void> {
  if (runner.registry.isActive(m)) return;
  const cycle = runner.beginTrial('last resort: no mitigation helped');
  if (!cycle) return;
  cycle.tried.push(m.name);
  const ctx = runner.context(runner.latest, 'no mitigation helped: the last resort');
  const how = {
    step: 'last-resort' as const,
    prefix: 'applied as the configured last resort: ',
    reason: 'applied as the configured last resort: no mitigation helped',
    lastResort: true,
  };
  if (!(await putOnTrial(runner, cycle, m, ctx, how, () => validate(runner, m)))) runner.end('exhausted');
}

import { createFakeClock, createKeel, KeelErrorCode } from '@keel/core';
import { describe, expect, it } from 'vitest';
import { unmitigatedReason } from '../src/incidents/incident-manager.js';
import { createMonitor, type Mitigation, memoryNotifier } from '../src/index.js';

const MIN = 60_000;

function counting(name: string, priority: number) {
  const m: Mitigation & { applied: number } = {
    name,
    priority,
    applied: 0,
    apply() {
      m.applied++;
    },
    rollback() {},
  };
  return m;
}

/** An app with 10 % of its requests slow (500 ms, budget 200 ms) until `fixed`, and two mitigations that do not help. */
function stuck(options: Parameters<typeof createMonitor>[1] = {}) {
  const clock = createFakeClock();
  const keel = createKeel({ clock, runtime: false, budgets: { page_load: false, db_latency: false } });
  const notes = memoryNotifier();
  const first = counting('first', 1);
  const second = counting('second', 2);
  const monitor = createMonitor(keel, {
    schedule: false,
    builtIns: { serveStale: false, openCircuit: false, shedLoad: false, readinessOff: true },
    mitigations: [first, second],
    validateAfter: 2 * MIN,
    cooldown: 20 * MIN,
    recoveryWindow: 2 * MIN,
    stabilityWindow: 2 * MIN,
    notifiers: [notes],
    escalation: { recheckAfter: 5 * MIN, lastResort: 'readiness-off' },
    ...options,
  });
  const state = { fixed: false };
  const run = async (ms: number) => {
    for (let t = 0; t < ms; t += keel.config.interval) {
      for (let i = 0; i < 20; i++) keel.recordRequest('GET', '/x', 200, !state.fixed && i < 2 ? 500 : 10);
      await clock.advanceAsync(keel.config.interval);
    }
    await monitor.settled();
  };
  return { clock, keel, monitor, notes, first, second, state, run };
}

describe('no stop while a breach persists', () => {
  it('everything tried: the severity goes up, people hear what was tried and measured, the last resort is applied, and the monitor keeps re-checking', async () => {
    const { keel, monitor, notes, first, second, run } = stuck();
    await run(MIN);
    const incident = monitor.incidents.open!;
    const severity = incident.severity;
    expect(severity).toBe('SEV2'); // the score is below 5
    await run(4 * MIN + 30_000); // first and second each tried and rolled back
    expect([first.applied, second.applied]).toEqual([1, 1]);

    // Escalated once: SEV2 → SEV1, told with what was tried and what it measured.
    expect(incident.severity).toBe('SEV1');
    expect(incident.unmitigated?.tried.map((t) => `${t.mitigation}:${t.outcome}`)).toEqual([
      'first:rolled-back',
      'second:rolled-back',
    ]);
    const told = notes.received.filter((n) => n.tried);
    expect(told).toHaveLength(1);
    expect(told[0]).toMatchObject({ type: 'incident.escalated', incident: { severity: 'SEV1' } });
    expect(told[0]!.text).toContain('no mitigation helped (tried: first rolled-back, second rolled-back)');
    expect(told[0]!.tried![0]!.reason).toContain('users were not served better');
    expect(monitor.steps().some((s) => s.kind === 'escalated')).toBe(true);

    // The configured last resort: applied in a cycle of its own, validated like any other.
    const lastResort = monitor.steps().find((s) => s.kind === 'last-resort')!;
    expect(lastResort.mitigation).toBe('readiness-off');
    expect(incident.actions.find((a) => a.mitigation === 'readiness-off')).toMatchObject({
      lastResort: true,
    });
    await run(3 * MIN);
    // Draining this instance did not serve its users better: released again, with the reason.
    expect(incident.actions.find((a) => a.mitigation === 'readiness-off')?.outcome).toBe('rolled-back');
    expect(keel.readiness().ready).toBe(true);

    // It keeps looking: re-checks every 5 min; once the cooldown (20 min) has passed, it tries again.
    expect(monitor.status().nextRecheckAt).not.toBeNull();
    await run(20 * MIN);
    const rechecks = monitor
      .steps()
      .filter((s) => s.kind === 'cycle-started' && s.detail.startsWith('recheck'));
    expect(rechecks.length).toBeGreaterThanOrEqual(3);
    expect(first.applied).toBeGreaterThanOrEqual(2);
    expect(notes.received.filter((n) => n.tried)).toHaveLength(1); // told once, not on every re-check
    expect(incident.status).toBe('open');
    await monitor.close();
    await keel.close();
  });

  it('a person acknowledges: re-checks stop; the incident still resolves when the budgets recover', async () => {
    const { monitor, first, state, run, keel } = stuck({
      builtIns: { serveStale: false, openCircuit: false, shedLoad: false },
      escalation: { recheckAfter: 5 * MIN },
    });
    await run(6 * MIN);
    const incident = monitor.incidents.open!;
    expect(incident.unmitigated).toBeTruthy();
    expect(() => monitor.acknowledge('')).toThrow(
      expect.objectContaining({ code: KeelErrorCode.InvalidOption }),
    );
    expect(monitor.acknowledge('alice', 'the database is failing over')).toBe(true);
    expect(incident.acknowledged).toMatchObject({ by: 'alice', note: 'the database is failing over' });
    expect(incident.timeline.at(-1)).toMatchObject({ kind: 'acknowledged' });
    expect(monitor.status().nextRecheckAt).toBeNull();
    expect(monitor.incidentsJson().open[0]!.acknowledged).toMatchObject({ by: 'alice' });

    const steps = monitor.steps().length;
    const applied = first.applied;
    await run(30 * MIN);
    expect(monitor.steps().length).toBe(steps); // nothing re-checked, nothing applied
    expect(first.applied).toBe(applied);

    state.fixed = true;
    for (let i = 0; i < 60 && incident.status === 'open'; i++) await run(10_000);
    expect(incident.status).toBe('resolved');
    expect(incident.postMortem).toContain('**Acknowledged** by alice');
    expect(incident.postMortem).toContain('**No mitigation helped:**');
    expect(monitor.acknowledge('bob')).toBe(false); // none open
    await monitor.close();
    await keel.close();
  });

  it.each([
    ['as the last resort', 'readiness-off' as const],
    ['as a mitigation like the others', false as const],
  ])(
    'a score below healthy with every budget met is looked at again, never escalated nor drained (readiness-off %s)',
    async (_how, lastResort) => {
      const clock = createFakeClock();
      const keel = createKeel({ clock, runtime: false, budgets: { page_load: false, db_latency: false } });
      // A dependency the app can do without is down: the score drops, every request is still served well.
      keel.addCheck({ name: 'recommendations', check: () => false, critical: false });
      const notes = memoryNotifier();
      const exits: number[] = [];
      const monitor = createMonitor(keel, {
        schedule: false,
        builtIns: {
          serveStale: false,
          openCircuit: false,
          readinessOff: true,
          gracefulRestart: { drainMs: 0, exit: () => exits.push(clock.now()) },
        },
        validateAfter: 2 * MIN,
        notifiers: [notes],
        escalation: { recheckAfter: 2 * MIN, lastResort },
      });
      for (let t = 0; t < 20 * MIN; t += keel.config.interval) {
        for (let i = 0; i < 20; i++) keel.recordRequest('GET', '/x', 200, 10);
        await clock.advanceAsync(keel.config.interval);
      }
      await monitor.settled();
      expect(keel.health().score).toBeLessThan(8);
      expect(keel.health().budgets.filter((b) => b.state === 'breached')).toEqual([]);
      const incident = monitor.incidents.open!;
      expect(incident.severity).toBe('SEV4');
      // Looked at again (re-checks ran), but nothing applied: shed-load needs an HTTP breach,
      // and the last resort a broken budget.
      expect(monitor.steps().filter((s) => s.kind === 'exhausted').length).toBeGreaterThan(1);
      expect(monitor.steps().filter((s) => ['applied', 'escalated', 'last-resort'].includes(s.kind))).toEqual(
        [],
      );
      expect(keel.readiness().ready).toBe(true);
      expect(exits).toEqual([]); // nor restarted
      expect(notes.received.some((n) => n.type === 'incident.escalated')).toBe(false);
      await monitor.close();
      await keel.close();
    },
  );

  it('the last resort must be a registered mitigation', () => {
    const keel = createKeel({ clock: createFakeClock(), runtime: false });
    expect(() => createMonitor(keel, { escalation: { lastResort: 'readiness-off' } })).toThrow(
      expect.objectContaining({ code: KeelErrorCode.InvalidOption }),
    );
  });
});

describe('the escalation says what was tried, truthfully', () => {
  it('a kept mitigation helped, only not enough: it is not reported as "no mitigation helped"', () => {
    expect(
      unmitigatedReason([
        { mitigation: 'shed-load', outcome: 'kept', reason: 'users were served better' },
        { mitigation: 'serve-stale', outcome: 'rolled-back', reason: 'did not help' },
      ]),
    ).toBe('the breach outlasts what helped (tried: shed-load kept, serve-stale rolled-back)');
    expect(unmitigatedReason([{ mitigation: 'first', outcome: 'rolled-back', reason: 'x' }])).toBe(
      'no mitigation helped (tried: first rolled-back)',
    );
    expect(unmitigatedReason([])).toBe('no mitigation helped (tried: nothing applicable)');
  });
});

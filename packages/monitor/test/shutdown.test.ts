import { createFakeClock, createKeel, GracefulShutdown } from '@keel/core';
import { afterEach, describe, expect, it } from 'vitest';
import { createMonitor, type Mitigation, memoryNotifier, webhookNotifier } from '../src/index.js';
import { type Receiver, startReceiver } from './helpers.js';

const MIN = 60_000;
let receiver: Receiver | undefined;
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
});

function tracked(name: string) {
  const calls = { apply: 0, rollback: 0 };
  const m: Mitigation = {
    name,
    apply: () => void calls.apply++,
    rollback: () => void calls.rollback++,
  };
  return { m, calls };
}

describe('planned shutdown is not an incident', () => {
  it('a cycle in progress stops without acting; nothing is validated, rolled back, applied or announced', async () => {
    const clock = createFakeClock();
    const keel = createKeel({ clock, runtime: false });
    const notes = memoryNotifier();
    const first = tracked('first');
    const second = tracked('second');
    const monitor = createMonitor(keel, {
      schedule: false,
      builtIns: { serveStale: false, openCircuit: false, shedLoad: false },
      mitigations: [first.m, second.m],
      notifiers: [notes],
      validateAfter: 2 * MIN,
    });
    const run = async (ms: number) => {
      for (let t = 0; t < ms; t += keel.config.interval) {
        for (let i = 0; i < 20; i++) keel.recordRequest('GET', '/x', 200, 900);
        await clock.advanceAsync(keel.config.interval);
      }
      await monitor.settled();
    };
    await run(90_000);
    expect(monitor.cycle).toMatchObject({ phase: 'validating', current: { mitigation: 'first' } });
    const incident = monitor.incidents.open!;
    expect(notes.received.map((n) => n.type)).toEqual(['incident.opened']);

    keel.beginShutdown(); // what SIGTERM does first
    await run(30 * MIN); // still slow, and not ready: every trigger there is
    expect(first.calls).toEqual({ apply: 1, rollback: 0 }); // left as it was, not judged
    expect(second.calls.apply).toBe(0);
    expect(monitor.cycle).toBeNull();
    expect(monitor.lastCycle?.outcome).toBe('stood-down');
    expect(monitor.steps().at(-2)).toMatchObject({ kind: 'stood-down', mitigation: 'first' });
    expect(monitor.steps().at(-1)?.kind).toBe('cycle-ended');
    expect(notes.received.map((n) => n.type)).toEqual(['incident.opened']);
    expect(monitor.trigger('manual')).toBe(false);
    // The action on trial is closed with its reason, not left pending.
    expect(incident.actions.map((a) => `${a.mitigation}:${a.outcome}`)).toEqual(['first:interrupted']);
    expect(incident.actions[0]!.detail).toContain('planned shutdown');
    expect(incident.status).toBe('open');
    expect(incident.severity).toBe(monitor.incidents.open!.severity);
    expect(monitor.status()).toMatchObject({ stoodDown: true, stoodDownAt: expect.any(String) });
    await monitor.close();
    await keel.close();
  });

  it('SIGTERM-like: GracefulShutdown with a pre-stop delay under slow traffic opens no incident, sheds nothing, sends no webhook', async () => {
    receiver = await startReceiver();
    const clock = createFakeClock();
    const keel = createKeel({ clock, runtime: false });
    const monitor = createMonitor(keel, {
      schedule: false,
      notifiers: [webhookNotifier({ url: receiver.url })],
    });
    // Healthy traffic, then the orchestrator sends SIGTERM: readiness off for the pre-stop delay.
    for (let i = 0; i < 6; i++) {
      for (let j = 0; j < 20; j++) keel.recordRequest('GET', '/x', 200, 10);
      await clock.advanceAsync(keel.config.interval);
    }
    const shutdown = new GracefulShutdown(keel, { preStopDelay: 3 * MIN, drainTimeout: 1000 });
    const done = shutdown.shutdown();
    expect(keel.readiness().ready).toBe(false);
    // The last requests during pre-stop are slow (the app is winding down): a breach, were it not planned.
    for (let i = 0; i < 18; i++) {
      for (let j = 0; j < 20; j++) keel.recordRequest('GET', '/x', 503, 900);
      await clock.advanceAsync(keel.config.interval);
    }
    expect(keel.budgets().some((b) => b.state === 'breached')).toBe(true);
    await done;
    await monitor.settled();
    expect(monitor.incidents.list()).toEqual([]);
    expect(keel.shedder.shedding).toBe(false);
    expect(monitor.steps().filter((s) => s.kind === 'applied')).toEqual([]);
    expect(receiver.attempts).toBe(0);
    await monitor.close();
  });

  it('a monitor created after shutdown began stands down at once', async () => {
    const keel = createKeel({ clock: createFakeClock(), runtime: false });
    keel.beginShutdown();
    const monitor = createMonitor(keel, { schedule: 60_000 });
    expect(monitor.status()).toMatchObject({ stoodDown: true, nextScheduledAt: null });
    expect(monitor.trigger()).toBe(false);
    await monitor.close();
    await keel.close();
  });
});

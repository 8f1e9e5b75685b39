import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFakeClock, createKeel, type FakeClock } from '@keel/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  createMonitor,
  type IncidentNotification,
  type MonitorOptions,
  webhookNotifier,
} from '../src/index.js';
import { type Receiver, startReceiver } from './helpers.js';

const MIN = 60_000;
let receiver: Receiver | undefined;
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
});

function app(clock: FakeClock, options: MonitorOptions) {
  const errors: string[] = [];
  const keel = createKeel({ clock, runtime: false, onError: (_e, where) => errors.push(where) });
  const monitor = createMonitor(keel, {
    schedule: false,
    builtIns: { serveStale: false, openCircuit: false, shedLoad: false },
    recoveryWindow: MIN,
    stabilityWindow: MIN,
    delivery: { backoff: 1000, maxBackoff: 4000, timeout: 2000 },
    ...options,
  });
  const run = async (ms: number, durationMs: number) => {
    for (let t = 0; t < ms; t += keel.config.interval) {
      for (let i = 0; i < 20; i++) keel.recordRequest('GET', '/x', 200, durationMs);
      await clock.advanceAsync(keel.config.interval);
    }
  };
  return { keel, monitor, run, errors };
}

const types = (r: Receiver) => [
  ...new Map(r.deliveries.map((d) => [d.headers['x-keel-delivery'], JSON.parse(d.body).type])).values(),
];

describe('the outbox: notifications are not lost', () => {
  it('a sink that fails more than five times still gets opened and resolved', async () => {
    receiver = await startReceiver();
    receiver.failNext = 8;
    const clock = createFakeClock();
    const { keel, monitor, run } = app(clock, { notifiers: [webhookNotifier({ url: receiver.url })] });
    await run(MIN, 900);
    const incident = monitor.incidents.open!;
    expect(incident).not.toBeNull();
    await run(8 * MIN, 10);
    expect(incident.status).toBe('resolved');
    // Retries back off on the Keel clock: keep time moving until both arrived.
    await vi.waitFor(
      async () => {
        await clock.advanceAsync(4000);
        expect(types(receiver!)).toEqual(['incident.opened', 'incident.resolved']);
      },
      { timeout: 10_000, interval: 20 },
    );
    expect(receiver.attempts).toBeGreaterThanOrEqual(8 + 2);
    await monitor.notificationsIdle();
    expect(monitor.notifierStats()[0]).toMatchObject({ sent: 2, dropped: 0, queued: 0 });
    expect(monitor.notifierStats()[0]!.failedAttempts).toBeGreaterThanOrEqual(8);
    console.log(`delivered after ${receiver.attempts} attempts for 2 messages (8 refused)`);
    await monitor.close();
    await keel.close();
  });

  it('a message still undelivered at a restart is sent by the next run, with the same delivery id; an expired one is not', async () => {
    receiver = await startReceiver();
    receiver.mode = 503;
    const dir = mkdtempSync(join(tmpdir(), 'keel-outbox-'));
    const clock = createFakeClock();
    const first = app(clock, {
      dir,
      notifiers: [webhookNotifier({ url: receiver.url })],
      delivery: { backoff: 1000, maxBackoff: 4000, timeout: 2000, expireAfter: 30 * MIN },
    });
    await first.run(MIN, 900);
    const incident = first.monitor.incidents.open!;
    await vi.waitFor(() => expect(receiver!.attempts).toBeGreaterThan(0));
    await first.monitor.settled();
    await first.monitor.close(); // the process ends; incident.opened was never delivered
    await first.keel.close();
    const pending = readFileSync(join(dir, 'monitor.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .filter((r) => r.t === 'outbox')
      .at(-1);
    expect(pending).toMatchObject({ pending: ['webhook'], message: { type: 'incident.opened' } });

    receiver.mode = 200;
    const second = app(clock, { dir, notifiers: [webhookNotifier({ url: receiver.url })] });
    await vi.waitFor(() => expect(types(receiver!)).toEqual(['incident.opened']));
    const body = JSON.parse(receiver.deliveries[0]!.body) as IncidentNotification;
    expect(body.incident.id).toBe(incident.id);
    expect(receiver.deliveries[0]!.headers['x-keel-delivery']).toBe(pending.id);
    await vi.waitFor(async () => {
      await second.monitor.settled();
      expect(second.monitor.incidents.open?.timeline.some((e) => e.kind === 'communicated')).toBe(true);
    });
    await second.monitor.close();
    await second.keel.close();

    // Delivered: a third run sends nothing again.
    const third = app(clock, { dir, notifiers: [webhookNotifier({ url: receiver.url })] });
    await new Promise((r) => setTimeout(r, 100));
    expect(receiver.deliveries).toHaveLength(1);
    await third.monitor.close();
    await third.keel.close();

    // Past its expiry (30 min) a message is closed with a report, not sent.
    receiver.mode = 503;
    const dir2 = mkdtempSync(join(tmpdir(), 'keel-outbox-'));
    const options = {
      dir: dir2,
      notifiers: [webhookNotifier({ url: receiver.url })],
      delivery: { backoff: 1000, maxBackoff: 4000, timeout: 2000, expireAfter: 30 * MIN },
    };
    const early = app(clock, options);
    await early.run(MIN, 900);
    await early.monitor.settled();
    await early.monitor.close();
    await early.keel.close();
    receiver.mode = 200;
    const attempts = receiver.attempts;
    clock.advance(31 * MIN);
    const late = app(clock, options);
    await late.monitor.settled();
    await new Promise((r) => setTimeout(r, 100));
    expect(receiver.attempts).toBe(attempts);
    expect(late.errors).toContain('monitor-outbox');
    await late.monitor.close();
    await late.keel.close();
  });
});

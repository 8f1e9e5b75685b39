import { createFakeClock, createKeel } from '@keel/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  createMonitor,
  functionNotifier,
  type IncidentNotification,
  slackNotifier,
  webhookNotifier,
} from '../src/index.js';
import { Dispatcher } from '../src/notify/dispatcher.js';
import { type Receiver, startReceiver } from './helpers.js';

let receiver: Receiver | undefined;
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
});

/** A Keel whose api_latency is breached after a few intervals of slow requests. */
function breachingApp(notifier: ReturnType<typeof webhookNotifier>, delivery = {}) {
  const clock = createFakeClock();
  const errors: string[] = [];
  const keel = createKeel({ clock, runtime: false, onError: (_e, where) => errors.push(where) });
  const monitor = createMonitor(keel, {
    notifiers: [notifier],
    schedule: false,
    builtIns: { serveStale: false, openCircuit: false, shedLoad: false },
    delivery: { maxAttempts: 3, backoff: 1000, maxBackoff: 4000, timeout: 2000, ...delivery },
  });
  const breach = () => {
    for (let i = 0; i < 4 && !monitor.incidents.open; i++) {
      for (let j = 0; j < 20; j++) keel.recordRequest('GET', '/slow', 200, 900);
      clock.advance(keel.config.interval);
    }
  };
  return { clock, keel, monitor, errors, breach };
}

describe('notifier delivery', () => {
  it('a receiver answering 500 gets bounded retries with backoff; the drop is counted and the app goes on', async () => {
    receiver = await startReceiver();
    receiver.mode = 500;
    const { clock, keel, monitor, errors, breach } = breachingApp(webhookNotifier({ url: receiver.url }));
    breach();
    expect(monitor.incidents.open).not.toBeNull();
    await vi.waitFor(() => expect(receiver!.attempts).toBe(1));
    // The retry waits for its backoff on the Keel clock: nothing more until time moves.
    await new Promise((r) => setTimeout(r, 50));
    expect(receiver.attempts).toBe(1);
    await clock.advanceAsync(1000);
    await vi.waitFor(() => expect(receiver!.attempts).toBe(2));
    await clock.advanceAsync(2000);
    await vi.waitFor(() => expect(receiver!.attempts).toBe(3));
    await monitor.notificationsIdle();
    expect(monitor.notifierStats()[0]).toMatchObject({
      name: 'webhook',
      sent: 0,
      failedAttempts: 3,
      exhausted: 1,
      dropped: 1,
      queued: 0,
      lastError: expect.stringContaining('500'),
    });
    expect(errors).toContain('notifier:webhook');
    await clock.advanceAsync(60_000);
    expect(receiver.attempts).toBe(3); // bounded: no fourth attempt
    // The app is unaffected: it still records and evaluates.
    keel.recordRequest('GET', '/ok', 200, 5);
    expect(keel.health().service).toBe('app');
    expect(monitor.incidents.open!.timeline.some((e) => e.kind === 'communicated')).toBe(false);
    // Given up on, and the incident says so.
    await monitor.settled();
    expect(monitor.incidents.open!.timeline.at(-1)?.detail).toMatch(
      /^incident\.opened could not be delivered to webhook: exhausted/,
    );
    await monitor.close();
    await keel.close();
  });

  it('a receiver that hangs: each attempt is abandoned at the timeout, retried, then dropped', async () => {
    receiver = await startReceiver();
    receiver.mode = 'hang';
    const { clock, keel, monitor, breach } = breachingApp(webhookNotifier({ url: receiver.url }), {
      maxAttempts: 2,
    });
    breach();
    await vi.waitFor(() => expect(receiver!.attempts).toBe(1));
    await clock.advanceAsync(2000); // timeout → aborted
    await clock.advanceAsync(1000); // backoff → second attempt
    await vi.waitFor(() => expect(receiver!.attempts).toBe(2));
    await clock.advanceAsync(2000);
    await monitor.notificationsIdle();
    expect(monitor.notifierStats()[0]).toMatchObject({ failedAttempts: 2, exhausted: 1, queued: 0 });
    expect(monitor.notifierStats()[0]!.lastError).toContain('2000 ms');
    // Meanwhile the monitor carried on (the incident is open, the cycle ran).
    expect(monitor.lastCycle ?? monitor.cycle).not.toBeNull();
    await monitor.close();
    await keel.close();
  });

  it('recovers when the receiver comes back, and marks the incident communicated', async () => {
    receiver = await startReceiver();
    receiver.mode = 503;
    const { clock, keel, monitor, breach } = breachingApp(webhookNotifier({ url: receiver.url }));
    breach();
    await vi.waitFor(() => expect(receiver!.attempts).toBe(1));
    receiver.mode = 204;
    await clock.advanceAsync(1000);
    await vi.waitFor(() => expect(receiver!.deliveries.length).toBe(1));
    await monitor.notificationsIdle();
    expect(monitor.notifierStats()[0]).toMatchObject({ sent: 1, failedAttempts: 1, dropped: 0 });
    const communicated = monitor.incidents.open!.timeline.find((e) => e.kind === 'communicated')!;
    expect(communicated.detail).toBe('incident.opened delivered to webhook');
    expect(communicated.at).toBe(clock.now());
    await monitor.close();
    await keel.close();
  });

  it('bounds the queue: a notifier that never settles drops the oldest and counts them', async () => {
    const clock = createFakeClock();
    const never = functionNotifier(() => new Promise(() => {}), 'stuck');
    const dispatcher = new Dispatcher(
      [never],
      clock,
      { maxQueue: 2, maxAttempts: 1, backoff: 10, maxBackoff: 10, timeout: 100, expireAfter: 60_000 },
      () => {},
      { delivered() {}, gaveUp() {} },
    );
    const message = (n: number) => ({ deliveryId: String(n) }) as IncidentNotification;
    for (let i = 0; i < 5; i++) dispatcher.send(message(i));
    expect(dispatcher.stats()[0]).toMatchObject({ queued: 3, overflowed: 2 }); // one in flight + 2 queued
    for (let i = 0; i < 3; i++) await clock.advanceAsync(100);
    await dispatcher.idle();
    expect(dispatcher.stats()[0]).toMatchObject({ queued: 0, overflowed: 2, exhausted: 3, dropped: 5 });
  });

  it('a throwing notifier is a failed attempt, not a crash', async () => {
    const clock = createFakeClock();
    let calls = 0;
    const dispatcher = new Dispatcher(
      [
        functionNotifier(() => {
          calls++;
          throw new Error('boom');
        }),
      ],
      clock,
      { maxQueue: 10, maxAttempts: 2, backoff: 10, maxBackoff: 10, timeout: 100, expireAfter: 60_000 },
      () => {},
      { delivered() {}, gaveUp() {} },
    );
    dispatcher.send({ deliveryId: 'x' } as IncidentNotification);
    await clock.advanceAsync(10);
    await dispatcher.idle();
    expect(calls).toBe(2);
    expect(dispatcher.stats()[0]).toMatchObject({ exhausted: 1, lastError: 'boom' });
  });

  it('slack notifier posts a Slack-compatible { text } body', async () => {
    receiver = await startReceiver();
    const { keel, monitor, breach } = breachingApp(slackNotifier({ url: receiver.url }));
    breach();
    await vi.waitFor(() => expect(receiver!.deliveries.length).toBe(1));
    const body = JSON.parse(receiver.deliveries[0]!.body);
    expect(Object.keys(body)).toEqual(['text']);
    expect(body.text).toMatch(/^:rotating_light: \*\[SEV\d\] app: api_latency breached/);
    await monitor.close();
    await keel.close();
  });

  it('rejects bad notifier configuration at startup', () => {
    expect(() => webhookNotifier({ url: 'ftp://x' })).toThrow(
      expect.objectContaining({ code: 'KEEL_INVALID_OPTION' }),
    );
    expect(() => webhookNotifier({ url: 'http://x', secret: '' })).toThrow(
      expect.objectContaining({ code: 'KEEL_INVALID_OPTION' }),
    );
  });
});

import { describe, expect, it } from 'vitest';
import { createKeel, KeelError, KeelErrorCode, type KeelOptions } from '../src/index.js';

function codeOf(options: unknown): { code: string; message: string } | undefined {
  try {
    const keel = createKeel(options as KeelOptions);
    void keel.close();
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(KeelError);
    return { code: (error as KeelError).code, message: (error as KeelError).message };
  }
}

describe('options', () => {
  it('zero-config works', async () => {
    const keel = createKeel();
    expect(keel.config.budgets.map((b) => b.name)).toEqual([
      'availability',
      'api_latency',
      'page_load',
      'error_rate',
      'db_latency',
      'lcp',
      'inp',
      'cls',
    ]);
    await keel.close();
  });

  it.each([
    ['an unknown option', { nope: 1 }, /`nope` is not a known option/],
    ['a renamed option', { port: 9464 }, /use `endpoints.adminPort`/],
    ['a non-integer interval', { window: { interval: 1.5 } }, /window.interval/],
    [
      'a window that is not a multiple of the interval',
      { window: { interval: 10_000, length: 15_000 } },
      /window.length/,
    ],
    ['a negative latency target', { budgets: { api_latency: { target: -1 } } }, /budgets.api_latency.target/],
    ['a percentage over 100', { budgets: { error_rate: { target: 120 } } }, /budgets.error_rate.target/],
    [
      'a custom budget without a kind',
      { budgets: { mine: { signal: 'x', target: 1 } } },
      /budgets.mine.kind/,
    ],
    [
      'a budget on an unknown signal',
      { budgets: { mine: { kind: 'latency', signal: 'nope', target: 1 } } },
      /budgets.mine.signal/,
    ],
    ['a percentile of 100', { budgets: { api_latency: { percentile: 100 } } }, /percentile/],
    ['too many labels', { signals: { s: { labels: ['a', 'b', 'c', 'd', 'e'] } } }, /signals.s.labels/],
    ['groupBy outside the labels', { signals: { s: { labels: ['a'], groupBy: 'b' } } }, /signals.s.groupBy/],
    ['redefining a built-in signal', { signals: { 'http.server.request.duration': {} } }, /built-in/],
    ['a short token', { endpoints: { token: 'short' } }, /endpoints.token/],
    ['a bad prefix', { endpoints: { prefix: 'ops/' } }, /endpoints.prefix/],
    ['unordered thresholds', { runtime: { heap: { ok: 0.9, warn: 0.5 } } }, /runtime.heap/],
    [
      'a burn window shorter than the interval step',
      { burnRateWindows: [{ short: 5000, long: 60_000, factor: 2 }] },
      /burnRateWindows\[0\].short/,
    ],
    ['a clock without timers', { clock: { now: () => 0 } }, /`clock`/],
    // Every options object refuses keys it does not know, so a typo never passes silently.
    ['an unknown window key', { window: { intervall: 5000 } }, /`window.intervall`/],
    ['an unknown budget key', { budgets: { api_latency: { targte: 300 } } }, /`budgets.api_latency.targte`/],
    ['an unknown signal key', { signals: { s: { label: ['a'] } } }, /`signals.s.label`/],
    ['an unknown limit', { limits: { maxSerie: 10 } }, /`limits.maxSerie`/],
    ['an unknown http key', { http: { clientErrors: true } }, /`http.clientErrors`/],
    ['an unknown runtime key', { runtime: { interval: 500 } }, /`runtime.interval`/],
    ['an unknown threshold', { runtime: { heap: { high: 0.9 } } }, /`runtime.heap.high`/],
    ['an unknown health key', { health: { stability: 1000 } }, /`health.stability`/],
    ['an unknown endpoint key', { endpoints: { port: 9464 } }, /`endpoints.port`/],
    ['an unknown shedding key', { shedding: { retryAfterSeconds: 5 } }, /`shedding.retryAfterSeconds`/],
    [
      'an unknown burn-rate window key',
      { burnRateWindows: [{ short: 300_000, long: 3_600_000, factor: 14.4, slow: 1 }] },
      /`burnRateWindows\[0\].slow`/,
    ],
    ['a non-object', 42, /`options` must be an object/],
  ])('rejects %s with KEEL_INVALID_OPTION naming the option', (_name, options, message) => {
    const result = codeOf(options);
    expect(result?.code).toBe(KeelErrorCode.InvalidOption);
    expect(result?.message).toMatch(message);
  });

  it("freezes the resolved config and never writes into the caller's options", async () => {
    const options = { budgets: { api_latency: { target: 300 } } };
    const snapshot = JSON.stringify(options);
    const keel = createKeel({ ...options, runtime: false });
    expect(JSON.stringify(options)).toBe(snapshot);
    expect(Object.isFrozen(keel.config)).toBe(true);
    expect(Object.isFrozen(keel.config.budgets[1])).toBe(true);
    expect(keel.config.budgets.find((b) => b.name === 'api_latency')!.target).toBe(300);
    // Budget targets become histogram boundaries so Prometheus can judge them exactly too.
    expect(keel.http.definition.boundaries).toContain(300);
    await keel.close();
  });

  it('lets a default budget be switched off', async () => {
    const keel = createKeel({ runtime: false, budgets: { page_load: false } });
    expect(keel.config.budgets.map((b) => b.name)).not.toContain('page_load');
    await keel.close();
  });
});

describe('defaults follow a custom interval', () => {
  it('rounds the default window and burn-rate windows to whole intervals', async () => {
    const keel = createKeel({ runtime: false, window: { interval: 7000 } });
    expect(Number.isInteger(keel.config.windowIntervals)).toBe(true);
    expect(keel.config.budgets.every((b) => Number.isInteger(b.windowIntervals))).toBe(true);
    expect(keel.config.burnRateWindows.every((w) => w.short % 7000 === 0 && w.long % 7000 === 0)).toBe(true);
    expect(keel.config.budgets.find((b) => b.name === 'api_latency')!.description).toBe(
      'p95 of http.server.request.duration <= 200 ms',
    );
    await keel.close();
  });
});

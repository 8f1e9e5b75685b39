import { describe, expect, it } from 'vitest';
import { OVERFLOW_LABEL } from '../src/index.js';
import { testKeel } from './helpers.js';

describe('signals', () => {
  it('keeps one series per label combination and counts every sample', () => {
    const { keel } = testKeel();
    keel.recordRequest('GET', '/a', 200, 10);
    keel.recordRequest('GET', '/a', 200, 30);
    keel.recordRequest('POST', '/a', 201, 10);
    keel.recordRequest('GET', '/b', 500, 10);
    // The fourth label, keel_outcome, is empty: the app answered.
    expect(keel.http.series.map((s) => s.labelValues.join(' '))).toEqual([
      'GET /a 200 ',
      'POST /a 201 ',
      'GET /b 500 ',
    ]);
    const getA = keel.http.series[0]!;
    expect(getA.le.reduce((a, b) => a + b, 0)).toBe(2);
    expect(getA.sum).toBe(40);
  });

  it('caps distinct series: 10^5 random labels leave the series count at the cap', () => {
    const { keel } = testKeel({ limits: { maxSeries: 50 } });
    for (let i = 0; i < 100_000; i++)
      keel.recordRequest('GET', `/random/${Math.random().toString(36)}`, 404, 1);
    expect(keel.http.seriesCount).toBe(50);
    expect(keel.http.overflowed).toBe(100_000 - 50);
    expect(keel.http.overflowSeries.labelValues).toEqual([
      OVERFLOW_LABEL,
      OVERFLOW_LABEL,
      OVERFLOW_LABEL,
      OVERFLOW_LABEL,
    ]);
    expect(keel.http.groups.size).toBeLessThanOrEqual(50);
  });

  it('caps groups separately from series', () => {
    const { keel } = testKeel({ limits: { maxGroups: 3 } });
    for (let i = 0; i < 10; i++) keel.recordRequest('GET', `/r${i}`, 200, 1);
    expect(keel.http.groups.size).toBe(3);
    expect(keel.http.seriesCount).toBe(10);
  });

  it('sends invalid label values to the overflow series instead of creating one', () => {
    const { keel } = testKeel();
    keel.recordRequest('GET', 'x'.repeat(10_000), 200, 1);
    keel.recordRequest('GET', '/bad\nnewline', 200, 1);
    keel.recordRequest('GET', '/ok', 200, 1);
    expect(keel.http.seriesCount).toBe(1);
    expect(keel.http.overflowed).toBe(2);
  });

  it('refuses negative, NaN and infinite values', () => {
    const { keel } = testKeel();
    for (const v of [-1, Number.NaN, Number.POSITIVE_INFINITY]) keel.recordRequest('GET', '/', 200, v);
    expect(keel.http.rejected).toBe(3);
    expect(keel.http.seriesCount).toBe(0);
  });

  it('treats 200 and "200" as the same series', () => {
    const { keel } = testKeel();
    keel.http.record(5, true, 'GET', '/', 200);
    keel.http.record(5, true, 'GET', '/', '200');
    expect(keel.http.seriesCount).toBe(1);
    expect(keel.http.series[0]!.le.reduce((a, b) => a + b, 0)).toBe(2);
  });

  it('finds the series of a call that leaves a trailing label out, even at the series cap', () => {
    // `keel.http.record(v, ok, method, route, status)` leaves `keel_outcome` out. Such a call must
    // reach its series again: at the cap, a miss would send every later sample to the overflow series.
    const { keel } = testKeel({ limits: { maxSeries: 1 } });
    for (let i = 0; i < 5; i++) keel.http.record(5, true, 'GET', '/', 200);
    expect(keel.http.seriesCount).toBe(1);
    expect(keel.http.overflowed).toBe(0);
    expect(keel.http.series[0]!.le.reduce((a, b) => a + b, 0)).toBe(5);
  });

  it('supports user-defined signals with their own labels and budgets', () => {
    const { keel, step } = testKeel({
      signals: {
        'checkout.duration': {
          unit: 'ms',
          labels: ['step'],
          groupBy: 'step',
          description: 'Checkout steps.',
        },
      },
      budgets: { checkout: { kind: 'latency', signal: 'checkout.duration', percentile: 90, target: 500 } },
    });
    const checkout = keel.signal('checkout.duration');
    for (let i = 0; i < 100; i++) checkout.record(i < 50 ? 100 : 900, true, i % 2 ? 'pay' : 'ship');
    step(2);
    const budget = keel.health().budgets.find((b) => b.name === 'checkout')!;
    expect(budget.state).toBe('breached');
    expect(
      keel
        .health()
        .signals.find((s) => s.name === 'checkout.duration')!
        .top.map((g) => g.group)
        .sort(),
    ).toEqual(['pay', 'ship']);
  });
});

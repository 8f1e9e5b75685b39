import { describe, expect, it, vi } from 'vitest';
import { createFakeClock, createKeel } from '../src/index.js';
import { type MetricNameRow as Row, readmeMetricNames as readmeTable } from './helpers.js';

// The core README's table "OpenTelemetry names → Prometheus names", converted
// by the rules of OpenTelemetry's Prometheus compatibility spec, against the
// families a Keel with every feature on serves at /metrics.

const UNITS: Record<string, string> = { s: 'seconds', ms: 'milliseconds', By: 'bytes' };

/** OTLP → Prometheus: dots to underscores, the unit as a suffix (braces dropped, "1" as ratio on gauges), _total on counters. */
function convert({ otel, unit, instrument }: Row): string {
  let name = otel.replace(/[^a-zA-Z0-9_:]/g, '_');
  const suffix =
    unit === '' || unit.startsWith('{')
      ? ''
      : unit === '1'
        ? instrument === 'gauge'
          ? 'ratio'
          : ''
        : UNITS[unit];
  if (suffix === undefined) throw new Error(`no conversion for unit ${unit}`);
  if (suffix && !name.endsWith(`_${suffix}`)) name += `_${suffix}`;
  if (instrument === 'counter' && !name.endsWith('_total')) name += '_total';
  return name;
}

describe('metric names', () => {
  it('serves every metric under the name its OpenTelemetry name converts to, as the README table says', async () => {
    const rows = readmeTable();
    expect(rows.length).toBeGreaterThan(30);
    for (const row of rows) expect(convert(row), row.otel).toBe(row.prometheus);

    // Every feature on, so every family is written.
    const keel = createKeel({ runtime: { sampleInterval: 10 } });
    keel.recordRequest('GET', '/', 200, 5);
    keel.recordQuery('SELECT', 'SELECT 1', 1);
    keel.vitals!.record({ page: '/', metrics: [{ name: 'TTI', value: 1000 }] });
    const cache = keel.cache<string>({ name: 'pages', maxBytes: 1000 });
    await cache.get('a', () => 'x');
    keel.breaker({ name: 'inventory' });
    keel.addCheck({ name: 'postgres', check: () => true });
    await keel.runChecks();
    await vi.waitFor(() => expect(keel.health().runtime ?? keel.evaluate().runtime).not.toBeNull());

    const text = await keel.metrics();
    const served = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!] as const);
    const table = new Map(rows.map((r) => [r.prometheus, r.instrument]));
    for (const [name, type] of served)
      expect(table.get(name), `${name} is served but not in the README table`).toBe(type);
    expect(served.map(([name]) => name).sort()).toEqual([...table.keys()].sort());
    await keel.close();
  });

  it('publishes the OpenTelemetry gauges with units that convert to the /metrics names', async () => {
    const { MeterProvider, MetricReader } = await import('@opentelemetry/sdk-metrics');
    const { registerOtelMetrics } = await import('../src/index.js');
    class Reader extends MetricReader {
      protected override async onShutdown(): Promise<void> {}
      protected override async onForceFlush(): Promise<void> {}
    }
    const reader = new Reader();
    const provider = new MeterProvider({ readers: [reader] });
    const clock = createFakeClock();
    const keel = createKeel({ runtime: false, clock });
    for (let i = 0; i < 100; i++) keel.recordRequest('GET', '/', 200, 5);
    clock.advance(20_000); // two evaluations: every budget of the HTTP signal has data
    registerOtelMetrics(keel, provider.getMeter('keel'));
    const { resourceMetrics } = await reader.collect();
    const descriptors = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics.map((m) => m.descriptor));
    const rows = new Map(readmeTable().map((r) => [r.otel, r]));
    for (const name of ['keel.health.score', 'keel.budget.error_budget_used', 'keel.budget.burn_rate']) {
      const descriptor = descriptors.find((d) => d.name === name)!;
      expect(descriptor.unit, name).toBe(rows.get(name)!.unit);
      expect(convert({ ...rows.get(name)!, unit: descriptor.unit })).toBe(rows.get(name)!.prometheus);
    }
    await provider.shutdown();
    await keel.close();
  });
});

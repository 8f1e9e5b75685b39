import { describe, expect, it } from 'vitest';
import { createFakeClock, createKeel, healthJson, KeelErrorCode } from '../src/index.js';

describe('health sections', () => {
  it('adds live top-level sections to /health, isolates a throwing one, and can be removed', async () => {
    const keel = createKeel({ clock: createFakeClock(), runtime: false, onError: () => {} });
    let n = 0;
    const remove = keel.addHealthSection('monitor', () => ({ calls: ++n }));
    keel.addHealthSection('broken', () => {
      throw new Error('boom');
    });
    const json = healthJson(keel.health()) as Record<string, unknown>;
    expect(json.monitor).toEqual({ calls: 1 });
    expect(json.broken).toBeNull();
    expect(json.score).toBe(10);
    expect(keel.errors.counts.get('health-section:broken')).toBe(1);
    expect((healthJson(keel.health()) as Record<string, unknown>).monitor).toEqual({ calls: 2 });
    remove();
    expect('monitor' in healthJson(keel.health())).toBe(false);

    const admin = await keel.listen(0);
    const body = (await (await fetch(`http://127.0.0.1:${admin.port}/health`)).json()) as Record<
      string,
      unknown
    >;
    expect(body.broken).toBeNull();
    await keel.close();
  });

  it('renders sections only for callers that read them, once per report', async () => {
    // Without the optimiser's own `optimise` section, so the sections are exactly this test's.
    const keel = createKeel({ clock: createFakeClock(), runtime: false, optimise: false });
    let renders = 0;
    keel.addHealthSection('monitor', () => ({ renders: ++renders }));
    keel.health();
    await keel.metrics();
    expect(keel.health().score).toBe(10);
    expect(renders).toBe(0);
    const report = keel.health();
    // `capacity` is core's own section (the capacity model), rendered the same lazy way.
    expect(report.sections).toEqual({ capacity: expect.any(Object), monitor: { renders: 1 } });
    expect(report.sections).toBe(report.sections);
    expect(healthJson(report)).toMatchObject({ monitor: { renders: 1 } });
    expect(JSON.parse(JSON.stringify(keel.health())).sections).toMatchObject({ monitor: { renders: 2 } });
    expect(renders).toBe(2);
    await keel.close();
  });

  it('rejects names that would overwrite /health keys, and duplicates', () => {
    const keel = createKeel({ clock: createFakeClock(), runtime: false });
    for (const name of ['score', 'budgets', 'bad name', ''])
      expect(() => keel.addHealthSection(name, () => 1)).toThrow(
        expect.objectContaining({ code: KeelErrorCode.InvalidOption }),
      );
    keel.addHealthSection('incidents', () => []);
    expect(() => keel.addHealthSection('incidents', () => [])).toThrow(
      expect.objectContaining({ code: KeelErrorCode.InvalidOption }),
    );
  });
});

describe('readiness holds', () => {
  it('turns readiness off with a reason until released; liveness is untouched', () => {
    const keel = createKeel({ clock: createFakeClock(), runtime: false });
    const release = keel.holdReadiness('monitor: draining this instance');
    expect(keel.readiness()).toEqual({ ready: false, reasons: ['monitor: draining this instance'] });
    release();
    release();
    expect(keel.readiness().ready).toBe(true);
  });
});

describe('cache serveStale', () => {
  it('serves entries past ttl + staleWhileRevalidate while on, refreshing in the background', async () => {
    const clock = createFakeClock();
    const keel = createKeel({ clock, runtime: false });
    const cache = keel.cache<string>({ name: 'catalog', ttl: 1000 });
    let loads = 0;
    const load = () => `v${++loads}`;
    expect(await cache.get('k', load)).toBe('v1');
    clock.advance(5000);
    cache.serveStale(60_000);
    expect(cache.staleExtension).toBe(60_000);
    expect(await cache.get('k', load)).toBe('v1'); // answered stale at once
    expect(cache.stats().stale).toBe(1);
    await Promise.resolve();
    expect(loads).toBe(2); // one background refresh
    cache.serveStale(false);
    clock.advance(5000);
    expect(await cache.get('k', load)).toBe('v3'); // normal again: expired means a miss
    expect(() => cache.serveStale(-1)).toThrow(
      expect.objectContaining({ code: KeelErrorCode.InvalidOption }),
    );
  });
});

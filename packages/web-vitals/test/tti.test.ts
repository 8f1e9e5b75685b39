import { describe, expect, it } from 'vitest';
import { compileTemplate, pageGroupOf } from '../src/page-group.js';
import { QUIET_MS, type Span, ttiSearch } from '../src/tti.js';

const task = (s: number, duration: number): Span => ({ s, e: s + duration });

/** Runs the search once over everything, as if the page were observed up to `now`. */
function tti(lower: number, tasks: Span[], requests: Span[], now: number) {
  const search = ttiSearch(lower);
  const final = search.update(tasks, requests, now);
  return { final, value: search.value, start: search.start };
}

describe('TTI by Lighthouse rules', () => {
  it('is FCP on a quiet page, once 5 s of quiet have passed', () => {
    expect(tti(800, [], [], 800 + QUIET_MS - 1)).toEqual({ final: false, value: 800, start: 800 });
    expect(tti(800, [], [], 800 + QUIET_MS)).toEqual({ final: true, value: 800, start: 800 });
  });

  it('is the end of the last long task before the first quiet window', () => {
    const tasks = [task(1000, 400), task(2000, 60)];
    expect(tti(500, tasks, [], 20_000)).toMatchObject({ final: true, value: 2060 });
  });

  it('ignores long tasks after the quiet window, and before FCP', () => {
    const tasks = [task(100, 300), task(1000, 400), task(6500, 200)];
    // 1400 -> 6400 is quiet: the task at 6500 comes after the window.
    expect(tti(500, tasks, [], 20_000)).toMatchObject({ final: true, value: 1400 });
  });

  it('never reports earlier than the lower bound (FCP or DOMContentLoaded)', () => {
    expect(tti(2000, [task(1000, 400)], [], 20_000)).toMatchObject({ value: 2000 });
    // A task running across FCP ends after it.
    expect(tti(1200, [task(1000, 400)], [], 20_000)).toMatchObject({ value: 1400 });
  });

  it('keeps looking while long tasks keep coming', () => {
    const tasks = Array.from({ length: 10 }, (_, i) => task(1000 + i * 1000, 100));
    const r = tti(500, tasks, [], 12_000);
    expect(r.final).toBe(false);
    expect(r.value).toBe(10_100);
  });

  it('needs the network quiet too: at most two requests in flight', () => {
    // Three requests overlap from 1500 to 4000; with no long task after FCP TTI stays FCP,
    // but the window can only start at 4000, so it is confirmed later.
    const requests = [
      { s: 1000, e: 4000 },
      { s: 1200, e: 4500 },
      { s: 1500, e: 5000 },
    ];
    expect(tti(800, [], requests, 5800)).toMatchObject({ final: false, start: 4000 });
    expect(tti(800, [], requests, 9000)).toMatchObject({ final: true, value: 800, start: 4000 });
    // Two in flight is still quiet.
    expect(tti(800, [], requests.slice(0, 2), 5800)).toMatchObject({ final: true, start: 800 });
  });

  it('counts a long task inside a busy network stretch as the last task before the window', () => {
    const requests = [
      { s: 1000, e: 8000 },
      { s: 1000, e: 8000 },
      { s: 1000, e: 8000 },
    ];
    expect(tti(800, [task(3000, 100)], requests, 14_000)).toMatchObject({
      final: true,
      value: 3100,
      start: 8000,
    });
  });

  it('gives the same answer fed piece by piece as all at once, and only moves forward', () => {
    const tasks = [task(900, 80), task(3000, 400), task(7000, 120), task(13_000, 60)];
    const requests = [
      { s: 4000, e: 9000 },
      { s: 4100, e: 9100 },
      { s: 4200, e: 9200 },
    ];
    const whole = tti(700, tasks, requests, 30_000);
    const search = ttiSearch(700);
    const starts: number[] = [];
    let final = false;
    for (let now = 1000; now <= 30_000 && !final; now += 1000) {
      const due = (s: Span) => s.e <= now;
      final = search.update(
        tasks.filter((t) => due(t) && t.e > now - 1000),
        requests.filter((r) => due(r) && r.e > now - 1000),
        now,
      );
      starts.push(search.start);
    }
    expect(final).toBe(true);
    expect(search.value).toBe(whole.value);
    expect(search.value).toBe(13_060);
    expect(starts).toEqual([...starts].sort((a, b) => a - b));
  });
});

describe('page groups', () => {
  const templates = ['/products/:id', '/docs/*', '/t/:tenant/orders/:id'].map(
    (t) => [compileTemplate(t), t] as [RegExp, string],
  );

  it('uses the first template that matches', () => {
    expect(pageGroupOf('/products/42', templates)).toBe('/products/:id');
    expect(pageGroupOf('/products/42/', templates)).toBe('/products/:id');
    expect(pageGroupOf('/docs/a/b/c', templates)).toBe('/docs/*');
    expect(pageGroupOf('/t/acme/orders/7', templates)).toBe('/t/:tenant/orders/:id');
    expect(pageGroupOf('/products', templates)).toBe('/products');
  });

  it('replaces id-like segments when no template matches', () => {
    expect(pageGroupOf('/orders/8812', [])).toBe('/orders/:id');
    expect(pageGroupOf('/u/3f2c1a9e-8b7d-4c6e-9a1b-2d3e4f5a6b7c/settings', [])).toBe('/u/:id/settings');
    expect(pageGroupOf('/blob/9f86d081884c7d65', [])).toBe('/blob/:id');
    expect(pageGroupOf('/s/AbC123xYz456QwE789rTy', [])).toBe('/s/:id');
    expect(pageGroupOf('/blog/how-to-measure-interactivity', [])).toBe('/blog/how-to-measure-interactivity');
    expect(pageGroupOf(`/${'z'.repeat(400)}`, []).length).toBe(200);
  });

  it('treats template text literally, except :params and a trailing *', () => {
    const [re] = [compileTemplate('/a.b/(x)')];
    expect(re.test('/a.b/(x)')).toBe(true);
    expect(re.test('/aXb/(x)')).toBe(false);
  });
});

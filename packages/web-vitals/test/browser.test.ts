import type { VitalsBeacon } from '@keel/core';
import express from 'express';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FixtureApp, fixtureApp, launch, waitFor } from './harness.js';

/** Busy-waits `ms` on the main thread: one long task. Written into the pages as source. */
const BUSY =
  'function busy(ms){const s=performance.now();while(performance.now()-s<ms);return performance.now()}';

const PAGES = {
  quiet: { body: '<h1>Quiet</h1><p>Nothing runs after load.</p>' },
  // One 400 ms long task starting 1 s after the page began loading.
  'long-task': {
    body: `<h1>One long task</h1><script>${BUSY}
setTimeout(()=>{const start=performance.now();const end=busy(400);window.task={start,end}},1000);</script>`,
  },
  // A 120 ms task every 700 ms, forever: never 5 s of quiet.
  busy: {
    body: `<h1>Always busy</h1><script>${BUSY}
window.ends=[];setInterval(()=>window.ends.push(busy(120)),700);</script>`,
  },
  // The same, but it stops after 4 s: interactive late.
  'late-quiet': {
    body: `<h1>Busy, then quiet</h1><script>${BUSY}
window.ends=[];const t=setInterval(()=>{window.ends.push(busy(120));if(performance.now()>4000)clearInterval(t)},700);</script>`,
  },
  interact: {
    body: `<div id="top"></div>
<h1 style="font-size:64px">The largest text on this page</h1>
<p style="font-size:20px;width:600px">${'Lorem ipsum dolor sit amet. '.repeat(20)}</p>
<button id="slow" style="width:200px;height:60px">Slow button</button>
<script>${BUSY}
// A late banner pushes the content down: a layout shift without user input.
setTimeout(()=>{document.getElementById('top').style.height='240px'},400);
document.getElementById('slow').addEventListener('click',()=>{busy(160);document.body.append('clicked')});
</script>`,
  },
  products: { body: '<h1>Product</h1>', options: { pageGroups: ['/pages/:name'] } },
  unsampled: { body: '<h1>Not sampled</h1>', options: { sampleRate: 0 } },
};

let app: FixtureApp;
let context: BrowserContext;
let closeBrowser: () => Promise<void>;

beforeAll(async () => {
  app = await fixtureApp(PAGES, {
    // Judge budgets every second over 2 min, from one sample, so /health shows the result at once.
    window: { interval: 1000, length: 120_000 },
    minSamples: 1,
    hysteresis: 1,
    // One browser is one client: its page views all count here (the quota is tested below and in core).
    vitals: { perClient: { recorded: 100, accepted: 100 } },
  });
  const browser = await launch();
  context = browser.context;
  closeBrowser = browser.close;
});

afterAll(async () => {
  await closeBrowser?.();
  await app?.close();
});

interface Visit {
  page: Page;
  /** Every URL the page requested. */
  requests: string[];
}

async function visit(name: string): Promise<Visit> {
  const page = await context.newPage();
  const requests: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(`${app.base}/pages/${name}`, { waitUntil: 'load' });
  return { page, requests };
}

/** Leaves the page (it turns hidden, then unloads) and returns the beacons it sent. */
async function leave(page: Page): Promise<VitalsBeacon[]> {
  const before = app.beacons.length;
  await page.goto('about:blank');
  // One beacon per page view; give a second one time to show up if it were (wrongly) sent.
  await waitFor(() => app.beacons.length, before + 1);
  await new Promise((r) => setTimeout(r, 300));
  await page.close();
  return app.beacons.slice(before);
}

const metric = (b: VitalsBeacon, name: string) => b.metrics.find((m) => m.name === name);

// Page-side expressions are strings: they run in the browser, whose globals Node's types do not describe.
const navigationTimes = (page: Page) =>
  page.evaluate(`({
    fcp: performance.getEntriesByName('first-contentful-paint')[0].startTime,
    dcl: performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd,
  })`) as Promise<{ fcp: number; dcl: number }>;

describe('@keel/web-vitals in Chromium', () => {
  it('reports TTI at FCP on a quiet page, in one beacon sent when the page is hidden', async () => {
    const { page, requests } = await visit('quiet');
    const { fcp, dcl } = await navigationTimes(page);
    await page.waitForTimeout(5600);
    const beacons = await leave(page);
    expect(beacons).toHaveLength(1);
    const [beacon] = beacons;
    expect(beacon!.page).toBe('/pages/quiet');
    const tti = metric(beacon!, 'TTI')!;
    expect(tti.censored).toBeUndefined();
    // TTI is never before FCP or DOMContentLoaded, and nothing else happened:
    // it is the later of the two. (How far DOMContentLoaded falls after FCP is
    // the machine's doing: 122 ms once on a loaded CI core, so no bound on it.)
    expect(tti.value).toBeCloseTo(Math.max(fcp, dcl), 0);
    expect(tti.value).toBeGreaterThanOrEqual(fcp);
    expect(metric(beacon!, 'FCP')!.value).toBeCloseTo(fcp, 0);
    expect(metric(beacon!, 'TTFB')).toBeDefined();
    expect(metric(beacon!, 'LCP')).toBeDefined();
    // No request to anyone but the app.
    expect(requests.every((url) => url.startsWith(app.base))).toBe(true);
  });

  it('reports TTI at the end of a 400 ms long task (within 20 ms)', async () => {
    const { page } = await visit('long-task');
    await page.waitForFunction('window.task', undefined, { timeout: 5000 });
    const task = (await page.evaluate('window.task')) as { start: number; end: number };
    const { fcp } = await navigationTimes(page);
    expect(task.start).toBeGreaterThan(fcp);
    // 5 s of quiet after the task confirm TTI.
    await page.waitForTimeout(task.end + 5600 - (await page.evaluate(() => performance.now())));
    const [beacon] = await leave(page);
    const tti = metric(beacon!, 'TTI')!;
    expect(tti.censored).toBeUndefined();
    // The long-task entry spans the whole task: the timer's dispatch before the
    // loop and the bookkeeping after it, in whole milliseconds. That is a few
    // ms; 20 ms stays far below the 400 ms that would separate "end of the
    // task" from "start of the task" and below the 50 ms long-task threshold.
    console.log(`TTI ${tti.value} ms, long task ended at ${task.end.toFixed(1)} ms`);
    expect(Math.abs(tti.value - task.end)).toBeLessThanOrEqual(20);
  });

  it('reports a page that never turns quiet as censored, with the last long task as lower bound', async () => {
    const { page } = await visit('busy');
    await page.waitForTimeout(6000);
    const ends = (await page.evaluate('window.ends')) as number[];
    const censoredBefore = app.keel.vitals!.stats().censored;
    const [beacon] = await leave(page);
    const tti = metric(beacon!, 'TTI')!;
    expect(tti.censored).toBe(true);
    expect(tti.value).toBeGreaterThanOrEqual(ends.at(-1)! - 20);
    // Past the 3 s target, so the server records it: a sure miss.
    expect(app.keel.vitals!.stats().censored).toBe(censoredBefore + 1);
    expect(app.keel.vitals!.stats().censoredRecorded).toBeGreaterThanOrEqual(1);
  });

  it('reports a page whose long tasks stop late with a late TTI', async () => {
    const { page } = await visit('late-quiet');
    await page.waitForTimeout(10_500);
    const ends = (await page.evaluate('window.ends')) as number[];
    const [beacon] = await leave(page);
    const tti = metric(beacon!, 'TTI')!;
    expect(tti.censored).toBeUndefined();
    expect(tti.value).toBeGreaterThan(4000);
    expect(Math.abs(tti.value - ends.at(-1)!)).toBeLessThanOrEqual(20);
  });

  it('reports LCP, CLS and INP after a real click', async () => {
    const { page } = await visit('interact');
    await page.waitForTimeout(1000);
    await page.click('#slow');
    await page.waitForSelector('text=clicked');
    // The event-timing entry is queued after the next paint, later still on a busy machine:
    // leave only once the browser has reported the click's entry (what INP is made of), or
    // after 20 s, when the assertions below say what is missing rather than a bare timeout.
    await page.evaluate(
      () =>
        new Promise<void>((resolve) => {
          setTimeout(resolve, 20_000);
          new PerformanceObserver((list, observer) => {
            if (list.getEntries().some((e) => e.name === 'click' && e.duration >= 160)) {
              observer.disconnect();
              resolve();
            }
            // Runs in the page; the test's types are Node's, which know no 'event' entries.
          }).observe({ type: 'event', buffered: true, durationThreshold: 16 } as never);
        }),
    );
    const beacons = await leave(page);
    expect(beacons).toHaveLength(1);
    const [beacon] = beacons;
    expect(metric(beacon!, 'LCP')!.value).toBeGreaterThan(0);
    expect(metric(beacon!, 'CLS')!.value).toBeGreaterThan(0.05);
    // The handler ran for 160 ms: the interaction took at least that long to paint.
    expect(metric(beacon!, 'INP')!.value).toBeGreaterThanOrEqual(160);
    expect(metric(beacon!, 'INP')!.value).toBeLessThan(1000);
    const metrics = await app.keel.metrics();
    expect(metrics).toContain('web_vitals_inp_seconds_count{page_group="/pages/interact"} 1');
    expect(metrics).toContain('web_vitals_cls_count{page_group="/pages/interact"} 1');
  }, 60_000);

  it('groups pages by route template, and sends nothing when not sampled', async () => {
    const products = await visit('products');
    const [beacon] = await leave(products.page);
    expect(beacon!.page).toBe('/pages/:name');

    const before = app.beacons.length;
    const unsampled = await visit('unsampled');
    await unsampled.page.goto('about:blank');
    await new Promise((r) => setTimeout(r, 500));
    await unsampled.page.close();
    expect(app.beacons.length).toBe(before);
    expect(unsampled.requests.filter((u) => u.includes('/keel/vitals'))).toEqual([]);
  });

  it('holds TTI to the page-load budget in /health and /metrics', async () => {
    await new Promise((r) => setTimeout(r, 1100));
    const health = (await (await fetch(`${app.base}/health`)).json()) as {
      budgets: { name: string; state: string; samples: number; target: number; value: number | null }[];
    };
    const pageLoad = health.budgets.find((b) => b.name === 'page_load')!;
    expect(pageLoad.target).toBe(3000);
    expect(pageLoad.samples).toBeGreaterThanOrEqual(4);
    expect(pageLoad.state).not.toBe('no_data');
    expect(health.budgets.map((b) => b.name)).toEqual(expect.arrayContaining(['lcp', 'inp', 'cls']));
    const metrics = await (await fetch(`${app.base}/metrics`)).text();
    expect(metrics).toMatch(/keel_budget_state\{budget="page_load",state="(ok|at_risk|breached)"\} 1/);
  });

  it('refuses oversize, malformed and cross-site beacons from a browser, and the series stay as they were', async () => {
    const series = async () =>
      (await app.keel.metrics())
        .split('\n')
        .filter((l) => l.startsWith('web_vitals_'))
        .join('\n');
    const before = await series();
    // A page that measures nothing itself, so only the hand-made beacons reach the collector.
    const { page } = await visit('unsampled');
    const statuses = await page.evaluate(async () => {
      const post = async (body: string, type = 'text/plain') =>
        (await fetch('/keel/vitals', { method: 'POST', body, headers: { 'content-type': type } })).status;
      return [
        await post(
          JSON.stringify({ page: '/', metrics: [{ name: 'TTI', value: 1 }], pad: 'x'.repeat(20_000) }),
        ),
        await post('{"page": "/", "metrics": ['),
        await post(JSON.stringify({ page: '/', metrics: [{ name: 'TTI', value: -1 }] })),
        await post(JSON.stringify({ page: '/\u0000', metrics: [{ name: 'LCP', value: 1 }] })),
        await post(
          JSON.stringify({ page: '/', metrics: [{ name: 'LCP', value: 1 }] }),
          'multipart/form-data',
        ),
      ];
    });
    expect(statuses).toEqual([413, 400, 422, 422, 415]);
    await page.close();

    // A page on another site (localhost is not 127.0.0.1) sending to the app's collector.
    const other = express();
    other.get('/', (_req, res) => {
      res.type('html').send('<h1>elsewhere</h1>');
    });
    const server = other.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const elsewhere = await context.newPage();
    await elsewhere.goto(`http://localhost:${(server.address() as { port: number }).port}/`);
    const rejectedBefore = app.keel.vitals!.stats().rejected.forbidden_origin;
    const evil = JSON.stringify({ page: '/evil', metrics: [{ name: 'TTI', value: 99_999 }] });
    const sent = await elsewhere.evaluate(
      `navigator.sendBeacon(${JSON.stringify(`${app.base}/keel/vitals`)}, ${JSON.stringify(evil)})`,
    );
    expect(sent).toBe(true);
    await waitFor(() => app.keel.vitals!.stats().rejected.forbidden_origin, rejectedBefore + 1);
    expect(app.keel.vitals!.stats().rejected.forbidden_origin).toBe(rejectedBefore + 1);
    await elsewhere.close();
    server.closeAllConnections();
    server.close();

    expect(await series()).toBe(before);
  });
});

describe('@keel/web-vitals in Chromium, against an app that requires page tokens (default quotas)', () => {
  let tokenApp: FixtureApp;
  beforeAll(async () => {
    tokenApp = await fixtureApp(
      {
        signed: { body: '<h1>Signed</h1>', token: 'page' },
        'signed-any': { body: '<h1>Signed for any page</h1>', token: 'any' },
        unsigned: { body: '<h1>No token</h1>' },
      },
      { vitals: { secret: 'a-secret-of-at-least-32-characters!' } },
    );
  });
  afterAll(async () => {
    await tokenApp?.close();
  });

  /** Every beacon the collector answered, whatever the answer. */
  const answered = () => {
    const s = tokenApp.keel.vitals!.stats();
    return s.accepted + s.capped + Object.values(s.rejected).reduce((a, b) => a + b, 0);
  };

  /** Visits a page, leaves it, and waits until the collector has answered its beacon. */
  async function visitAndLeave(name: string): Promise<void> {
    const before = answered();
    const page = await context.newPage();
    await page.goto(`${tokenApp.base}/pages/${name}`, { waitUntil: 'load' });
    await page.waitForTimeout(300);
    await page.goto('about:blank');
    await waitFor(answered, before + 1);
    await page.close();
  }

  it('lands the beacons of pages that carry the token the app rendered, and refuses the others', async () => {
    const collector = tokenApp.keel.vitals!;
    await visitAndLeave('signed');
    expect(collector.stats().accepted).toBe(1);
    expect(tokenApp.beacons.at(-1)).toMatchObject({ page: '/pages/signed', token: expect.any(String) });

    await visitAndLeave('signed-any');
    expect(collector.stats().accepted).toBe(2);

    await visitAndLeave('unsigned');
    expect(collector.stats()).toMatchObject({ accepted: 2, capped: 0 });
    expect(collector.stats().rejected.invalid_token).toBe(1);
    const metrics = await tokenApp.keel.metrics();
    // (TTI is still censored after 300 ms, so FCP is the value every view records.)
    expect(metrics).toContain('web_vitals_fcp_seconds_count{page_group="/pages/signed"} 1');
    expect(metrics).toContain('web_vitals_fcp_seconds_count{page_group="/pages/signed-any"} 1');
    expect(metrics).not.toContain('page_group="/pages/unsigned"');
  });
});

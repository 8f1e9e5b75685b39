import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AdminServer,
  createFakeClock,
  createKeel,
  type FakeClock,
  type Keel,
  type OptimiseStatus,
} from '../src/index.js';
import { launchChromium, outputPath, until } from './browser.js';

const TOKEN = 'dashboard-test-token-0123456789';

// The sections @keel/monitor and the optimisation loop add to /health, as fixtures: the page reads
// them by shape, so it must show whatever of them is there.
const INCIDENTS = {
  open: [
    {
      id: 'inc-1',
      title: 'api_latency breached',
      severity: 'SEV2',
      status: 'open',
      triggers: ['api_latency'],
      openedAt: '2026-01-01T00:00:02.000Z',
      timeline: [
        { kind: 'detected', at: '2026-01-01T00:00:02.000Z', detail: 'api_latency breached: p95 250 ms' },
        { kind: 'action', at: '2026-01-01T00:00:03.000Z', detail: 'shed-load applied' },
      ],
      actions: [
        {
          mitigation: 'shed-load',
          outcome: 'kept',
          appliedAt: '2026-01-01T00:00:03.000Z',
          scoreBefore: 6.1,
          scoreAfter: 8.4,
          reason: 'more good requests per second after it',
        },
      ],
    },
  ],
  recent: [],
};
const MONITOR = {
  dryRun: false,
  active: ['shed-load'],
  recentSteps: [
    {
      at: '2026-01-01T00:00:03.000Z',
      kind: 'applied',
      mitigation: 'shed-load',
      detail: 'shedding 50 %',
      scoreBefore: 6.1,
      scoreAfter: null,
    },
    {
      at: '2026-01-01T00:00:13.000Z',
      kind: 'kept',
      mitigation: 'shed-load',
      detail: 'score 6.1 → 8.4',
      scoreBefore: 6.1,
      scoreAfter: 8.4,
    },
  ],
};
// The optimiser's own /health section (typed, so the fixture cannot drift from it), after a
// capture that ranked a pool bottleneck and priced it with `keel.capacity.costOf`.
const OPTIMISE: OptimiseStatus = {
  state: 'idle',
  triggerMs: 1000,
  capture: null,
  automaticFrom: null,
  lastProfile: null,
  latest: {
    id: 'capture-1',
    reason: 'GET /api/slow p95 1430 ms > 1000 ms',
    startedAt: '2026-12-06T10:00:00.000Z',
    endedAt: '2026-12-06T10:00:10.000Z',
    requests: 420,
    bottlenecks: 1,
    top: [
      {
        rank: 1,
        kind: 'pool',
        effort: 'pool',
        route: null,
        userSecondsPerMinute: 12.5,
        title: 'queries waited 60 % of their time in pool default for a free connection (max 10)',
        fix: 'raise pool max from 10 to 20 (createPool(keel, { pg: { max: 20 } }))',
        cost: '+10 connections per instance (×3 instances): +21.90 USD/month, +30 connections in total',
      },
    ],
    notes: [],
  },
};

interface Served {
  keel: Keel;
  admin: AdminServer;
  base: string;
}

async function serve(keel: Keel): Promise<Served> {
  const admin = await keel.listen(0, '127.0.0.1');
  return { keel, admin, base: `http://127.0.0.1:${admin.port}` };
}

let context: BrowserContext;
let closeBrowser: () => Promise<void>;

beforeAll(async () => {
  const browser = await launchChromium();
  context = browser.context;
  closeBrowser = browser.close;
});

afterAll(async () => {
  await closeBrowser?.();
});

/** A page with every console error and failed or foreign request collected. */
async function open(url: string, origin: string, viewport = { width: 1280, height: 900 }) {
  const page = await context.newPage();
  await page.setViewportSize(viewport);
  const errors: string[] = [];
  const foreign: string[] = [];
  let navigations = 0;
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('request', (r) => {
    if (!r.url().startsWith(origin)) foreign.push(r.url());
  });
  page.on('framenavigated', (f) => {
    if (f === page.mainFrame()) navigations++;
  });
  await page.goto(url, { waitUntil: 'load' });
  return { page, errors, foreign, navigations: () => navigations };
}

const text = async (page: Page, selector: string) =>
  (await page.locator(selector).first().textContent()) ?? '';

describe('the /keel dashboard in Chromium', () => {
  let clock: FakeClock;
  let served: Served;

  beforeAll(async () => {
    clock = createFakeClock();
    const keel = createKeel({
      service: 'checkout',
      clock,
      runtime: false,
      window: { interval: 1000, length: 60_000 },
      minSamples: 5,
      hysteresis: 1,
      cost: { instanceHourly: 0.1, currency: 'USD', instances: 3 },
      endpoints: { token: TOKEN },
      // The page is shown the section below instead of a capture's.
      optimise: false,
    });
    keel.addHealthSection('incidents', () => INCIDENTS);
    keel.addHealthSection('monitor', () => MONITOR);
    keel.addHealthSection('optimise', () => OPTIMISE);
    served = await serve(keel);
    for (let i = 0; i < 3; i++) {
      for (let n = 0; n < 40; n++) keel.recordRequest('GET', '/api/users', 200, 20 + (n % 7));
      for (let n = 0; n < 10; n++) keel.recordRequest('GET', '/api/slow', n === 0 ? 500 : 200, 250);
      for (let n = 0; n < 8; n++) keel.recordQuery('SELECT', 'SELECT users', 12);
      clock.advance(1000);
    }
  });

  afterAll(async () => {
    await served?.keel.close();
  });

  it('keeps its data behind the token; the page itself holds none', async () => {
    const data = await fetch(`${served.base}/keel`, { headers: { accept: 'application/json' } });
    expect(data.status).toBe(401);
    const ok = await fetch(`${served.base}/keel`, {
      headers: { accept: 'application/json', authorization: `Bearer ${TOKEN}` },
    });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { health: { service: string } }).health.service).toBe('checkout');
    const shell = await fetch(`${served.base}/keel`);
    expect(shell.status).toBe(200);
    expect(shell.headers.get('content-type')).toMatch(/^text\/html/);
    expect(shell.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(await shell.text()).not.toContain('checkout');
  });

  it('asks for the token, then shows the same numbers as /health, with no console error and no request elsewhere', async () => {
    const { page, errors, foreign } = await open(`${served.base}/keel`, served.base);
    await page.locator('#login').waitFor({ state: 'visible' });
    expect(await text(page, '#live')).toContain('token');
    // Chromium logs the refused request itself; that 401 is the expected one, nothing else.
    expect(errors).toEqual([
      'Failed to load resource: the server responded with a status of 401 (Unauthorized)',
    ]);
    errors.length = 0;
    await page.fill('#token', TOKEN);
    await page.press('#token', 'Enter');
    await page.locator('[data-field="score"]').waitFor();
    await until('the budgets to be drawn', async () =>
      (await page.locator('[data-budget]').count()) > 0 ? true : undefined,
    );
    expect(await page.locator('#login').isVisible()).toBe(false);

    // biome-ignore lint/suspicious/noExplicitAny: /health's JSON, read field by field below
    const health: any = await (
      await fetch(`${served.base}/health`, { headers: { authorization: `Bearer ${TOKEN}` } })
    ).json();
    expect(await text(page, '[data-field="score"]')).toBe(String(health.score));
    expect(await text(page, '[data-field="status"]')).toBe(health.status);
    expect(await text(page, '[data-field="stable"]')).toBe(health.stable ? 'stable' : 'not stable');
    expect(await text(page, '[data-field="ready"]')).toBe(health.ready ? 'ready' : 'not ready');
    expect(health.budgets.some((b: { state: string }) => b.state === 'breached')).toBe(true);

    for (const b of health.budgets) {
      const card = page.locator(`[data-budget="${b.name}"]`);
      expect(await card.locator('[data-state]').first().getAttribute('data-state')).toBe(b.state);
      const unit = b.unit === '1' ? '' : ` ${b.unit}`;
      const value = b.value === null ? '–' : `${b.value}${unit}`;
      expect(await card.locator('[data-field="value"]').textContent()).toBe(value);
      expect(await card.locator('[data-field="target"]').textContent()).toBe(`${b.target}${unit}`);
      expect(await card.locator('[data-field="samples"]').textContent()).toBe(String(b.samples));
      const used = b.errorBudgetUsed;
      const left =
        used === null
          ? '–'
          : used >= 1
            ? `none (used ${Math.round(used * 100) / 100}×)`
            : `${Math.round((1 - used) * 1000) / 10} %`;
      expect(await card.locator('[data-field="errorBudgetLeft"]').textContent()).toBe(left);
      for (const r of b.burnRates) {
        for (const side of ['short', 'long'] as const) {
          const shown = await card.locator(`[data-burn="${r.windows}:${side}"]`).textContent();
          expect(shown).toBe(r[side] === null ? '–' : String(r[side]));
        }
      }
    }
    // The breached budget says so in words, not only in red.
    const breached = health.budgets.find((b: { state: string }) => b.state === 'breached');
    expect(await page.locator(`[data-budget="${breached.name}"] .badge`).first().textContent()).toContain(
      'Breached',
    );

    for (const c of health.components) {
      expect(await page.locator(`[data-component="${c.name}"]`).textContent()).toBe(String(c.score));
    }
    const http = health.signals.find((s: { name: string }) => s.name === 'http.server.request.duration');
    for (const r of http.top) {
      expect(await page.locator(`[data-route="${r.group}:samples"]`).textContent()).toBe(String(r.samples));
      expect(await page.locator(`[data-route="${r.group}:p95"]`).textContent()).toBe(`${r.p95} ms`);
    }
    const cap = health.capacity;
    expect(await page.locator('[data-capacity="rps"]').textContent()).toBe(`${cap.rps} req/s`);
    expect(await page.locator('[data-capacity="instances"]').textContent()).toBe(String(cap.instances));
    expect(await page.locator('[data-capacity="advice"]').textContent()).toBe(cap.advice);
    expect(await page.locator('[data-capacity="monthlyNow"]').textContent()).toBe(
      `${cap.cost.monthlyNow.toFixed(2)} USD/month`,
    );

    // The sections other packages add.
    const incident = page.locator('[data-incident="inc-1"]');
    expect(await incident.textContent()).toContain('api_latency breached: p95 250 ms');
    expect(await incident.textContent()).toContain('6.1 → 8.4');
    expect(await page.locator('#monitor').textContent()).toContain('shedding 50 %');
    expect(await page.locator('#optimise-section').isVisible()).toBe(true);
    const bottleneck = page.locator('[data-bottleneck="0"]');
    expect(await bottleneck.textContent()).toContain('raise pool max from 10 to 20');
    expect(await bottleneck.textContent()).toContain('+21.90 USD/month');

    expect(errors).toEqual([]);
    expect(foreign).toEqual([]);
    const shot = outputPath('desktop.png');
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`dashboard screenshot (desktop): ${shot}`);
    await page.close();
  });

  it('works by keyboard and at phone width', async () => {
    const { page, errors } = await open(`${served.base}/keel#token=${TOKEN}`, served.base, {
      width: 375,
      height: 800,
    });
    await page.locator('[data-field="score"]').waitFor();
    await until('the budgets to be drawn', async () =>
      (await page.locator('[data-budget]').count()) > 0 ? true : undefined,
    );
    // The token left the address bar once read.
    expect(page.url()).not.toContain('token');
    // Nothing is wider than the phone: wide tables scroll inside their own box.
    // Page-side code as strings: this file is type-checked against Node, not the DOM.
    const overflow = (await page.evaluate(
      'document.documentElement.scrollWidth - window.innerWidth',
    )) as number;
    expect(overflow).toBeLessThanOrEqual(0);

    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement?.textContent')).toBe('Skip to the dashboard');
    await page.keyboard.press('Enter');
    expect(await page.evaluate('document.activeElement?.id')).toBe('main');
    // Every scrolling table and every incident can be reached with Tab.
    const reachable = await page.evaluate(
      "[...document.querySelectorAll('.scroll, summary')].every((el) => el.tabIndex >= 0)",
    );
    expect(reachable).toBe(true);
    let reachedTable = false;
    for (let i = 0; i < 40 && !reachedTable; i++) {
      await page.keyboard.press('Tab');
      reachedTable = (await page.evaluate(
        "document.activeElement?.classList.contains('scroll') ?? false",
      )) as boolean;
    }
    expect(reachedTable).toBe(true);

    expect(errors).toEqual([]);
    const shot = outputPath('phone.png');
    // The first screen, as a phone shows it (the full page is in phone-full.png).
    await page.screenshot({ path: shot });
    await page.screenshot({ path: outputPath('phone-full.png'), fullPage: true });
    console.log(`dashboard screenshot (phone width): ${shot}`);
    await page.close();
  });
});

describe('the /keel dashboard, live', () => {
  let served: Served;

  beforeAll(async () => {
    const keel = createKeel({
      service: 'live',
      runtime: false,
      window: { interval: 1000, length: 30_000 },
      minSamples: 5,
      hysteresis: 1,
    });
    served = await serve(keel);
  });

  afterAll(async () => {
    await served?.keel.close();
  });

  it('shows a provoked breach within a few intervals, without a reload', async () => {
    const { keel, base } = served;
    const { page, errors, navigations } = await open(`${base}/keel`, base);
    const state = () =>
      page.locator('[data-budget="api_latency"] [data-state]').first().getAttribute('data-state');
    for (let i = 0; i < 20; i++) keel.recordRequest('GET', '/fast', 200, 15);
    await until('api_latency ok on the page', async () => ((await state()) === 'ok' ? true : undefined));

    const provoked = Date.now();
    for (let i = 0; i < 60; i++) keel.recordRequest('GET', '/slow', 200, 900);
    const interval = keel.config.interval;
    // One interval to close, one evaluation (hysteresis 1), one poll: a few intervals at most.
    await until(
      'api_latency breached on the page',
      async () => ((await state()) === 'breached' ? true : undefined),
      6 * interval,
    );
    const took = Date.now() - provoked;
    console.log(`breach shown on the page ${took} ms after it was provoked (interval ${interval} ms)`);
    expect(await page.locator('[data-budget="api_latency"] .badge').first().textContent()).toContain(
      'Breached',
    );
    expect(navigations()).toBe(1);
    expect(errors).toEqual([]);
    await page.close();
  });
});

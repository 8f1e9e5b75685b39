import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { healthJson } from '@keel/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  createMonitor,
  type IncidentNotification,
  type Monitor,
  signWebhook,
  webhookNotifier,
} from '../src/index.js';
import { type Receiver, scenario, startReceiver } from './helpers.js';

const MIN = 60_000;
type Sections = { monitor: ReturnType<Monitor['status']>; incidents: ReturnType<Monitor['incidentsJson']> };
let receiver: Receiver | undefined;
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
});

describe('the whole story: breach → incident → mitigate → validate → roll back → next → recover → resolve', () => {
  it('runs a cycle end to end on the fake clock, with a real webhook receiver', async () => {
    receiver = await startReceiver();
    const dir = mkdtempSync(join(tmpdir(), 'keel-monitor-'));
    const s = scenario();
    const { keel } = s;
    // A cache that holds entries but does not sit in front of the slow route: serving it stale cannot help.
    const catalog = keel.cache<string>({ name: 'catalog', ttl: 3_600_000 });
    await catalog.get('all', () => 'products');
    const monitor = createMonitor(keel, {
      notifiers: [webhookNotifier({ url: receiver.url, secret: 's3cret' })],
      dir,
      schedule: false,
    });
    const stepKinds = () => monitor.steps().map((x) => `${x.kind}${x.mitigation ? `:${x.mitigation}` : ''}`);

    await s.run(2 * MIN); // healthy: the "before"
    expect(keel.health().score).toBeGreaterThanOrEqual(9);
    expect(monitor.incidents.open).toBeNull();

    s.dependencyMs = 800; // the dependency slows down
    for (let i = 0; i < 30 && !monitor.incidents.open; i++) await s.run(10_000);
    const incident = monitor.incidents.open!;
    expect(incident).not.toBeNull();
    expect(incident.triggers).toEqual(['api_latency']);
    expect(incident.severity).toMatch(/^SEV[1-4]$/);
    expect(incident.severityReason).toContain('api_latency');
    expect(incident.timeline.map((e) => e.kind).slice(0, 2)).toEqual(['detected', 'assessed']);

    // The webhook reaches the real receiver, signed.
    await vi.waitFor(() => expect(receiver!.deliveries.length).toBe(1), { timeout: 5000 });
    const opened = receiver.deliveries[0]!;
    const body = JSON.parse(opened.body) as IncidentNotification;
    expect(body).toMatchObject({ type: 'incident.opened', service: 'shop', incident: { id: incident.id } });
    expect(opened.headers['x-keel-signature']).toBe(
      signWebhook('s3cret', String(opened.headers['x-keel-timestamp']), opened.body),
    );
    await monitor.settled();
    expect(incident.timeline.some((e) => e.kind === 'communicated')).toBe(true);

    // The cycle started at once: serve-stale first (cheapest), and /health shows it.
    expect(stepKinds()).toContain('applied:serve-stale');
    const during = healthJson(keel.health()) as unknown as Sections;
    expect(during.monitor.cycle).toMatchObject({
      phase: 'validating',
      current: { mitigation: 'serve-stale' },
    });
    expect(during.incidents.open[0]).toMatchObject({ id: incident.id, severity: incident.severity });

    await s.run(11 * MIN); // validation: it did not help → rolled back, next one applied
    const rolled = monitor.steps().find((x) => x.kind === 'rolled-back')!;
    expect(rolled.mitigation).toBe('serve-stale');
    expect(rolled.after!.score - rolled.before!.score).toBeLessThan(0.25);
    expect(catalog.staleExtension).toBe(0); // really undone
    expect(stepKinds()).toContain('applied:open-circuit');
    expect(keel.breakers[0]!.stats()).toMatchObject({ state: 'open', forced: true });

    await s.run(11 * MIN); // the circuit's fallback is fast → budget recovers → kept
    const kept = monitor.steps().find((x) => x.kind === 'kept')!;
    expect(kept.mitigation).toBe('open-circuit');
    expect(kept.before!.score).toBeLessThan(8);
    expect(kept.after!.score).toBeGreaterThanOrEqual(8);
    expect(incident.timeline.some((e) => e.kind === 'mitigated')).toBe(true);

    s.dependencyMs = 20; // the dependency is fixed
    await s.run(45 * MIN); // stable for 30 min → release on trial → still healthy → released; incident resolves
    expect(stepKinds()).toEqual(
      expect.arrayContaining([
        'stabilizing',
        'stable',
        'release-trial:open-circuit',
        'released:open-circuit',
      ]),
    );
    expect(monitor.lastCycle?.outcome).toBe('stable');
    expect(keel.breakers[0]!.stats().state).toBe('closed');
    expect(incident.status).toBe('resolved');

    // The protocol's steps, in order, each with a timestamp.
    // (`assessed` repeats when the severity was raised as more of the window turned slow.)
    const protocol = incident.timeline.filter((e) => e.kind !== 'action' && e.kind !== 'note');
    expect([...new Set(protocol.map((e) => e.kind))]).toEqual([
      'detected',
      'assessed',
      'communicated',
      'mitigated',
      'resolved',
      'post-mortem',
    ]);
    for (let i = 1; i < incident.timeline.length; i++)
      expect(incident.timeline[i]!.at).toBeGreaterThanOrEqual(incident.timeline[i - 1]!.at);

    // The post-mortem holds the timeline and the measured numbers.
    await monitor.settled();
    const pm = readFileSync(join(dir, 'postmortems', `${incident.id}.md`), 'utf8');
    expect(pm).toBe(incident.postMortem);
    if (process.env.SHOW_PM) console.log(pm);
    const impact = incident.impact.api_latency!;
    expect(impact.bad).toBeGreaterThan(0);
    expect(impact.total).toBeGreaterThanOrEqual(impact.bad);
    expect(pm).toContain(`**Requests affected** (over a latency target or failed): ${impact.bad}`);
    expect(pm).toMatch(/## Timeline[\s\S]*\| detected \|[\s\S]*\| resolved \|/);
    expect(pm).toMatch(/serve-stale \| rolled-back \| [\d.]+ → [\d.]+/);
    expect(pm).toMatch(/open-circuit \| kept \| [\d.]+ → [\d.]+/);
    expect(pm).toContain('## Root cause');
    expect(pm).toContain('## Follow-ups');
    expect(pm).toContain(
      `| health score | ${incident.before!.score} | ${incident.during!.score} | ${incident.after!.score} |`,
    );

    const escalations = incident.timeline.filter(
      (e) => e.kind === 'assessed' && e.detail.startsWith('escalated'),
    );
    // At least once: an attempt abandoned at its (fake-clock) timeout may have arrived too; receivers drop
    // the duplicate by its delivery id, and so does this check.
    const delivered = () => [
      ...new Map(
        receiver!.deliveries.map((d) => [d.headers['x-keel-delivery'], JSON.parse(d.body).type]),
      ).values(),
    ];
    await vi.waitFor(() =>
      expect(delivered()).toEqual([
        'incident.opened',
        ...escalations.map(() => 'incident.escalated'),
        'incident.mitigated',
        'incident.resolved',
      ]),
    );
    const resolved = JSON.parse(receiver.deliveries.at(-1)!.body) as IncidentNotification;
    expect(resolved.postMortem).toBe(incident.postMortem);
    const after = healthJson(keel.health()) as unknown as Sections;
    expect(after.incidents.open).toEqual([]);
    expect(after.incidents.recent[0]).toMatchObject({ id: incident.id, status: 'resolved' });
    await monitor.close();
    await keel.close();
  });
});

import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFakeClock, createKeel } from '@keel/core';
import { describe, expect, it } from 'vitest';
import { createApp } from '../src/app.js';
import { monitorOptionsFromEnv, startMonitor } from '../src/monitor.js';

interface IncidentJson {
  id: string;
  severity: string;
  status: string;
  postMortemPath: string | null;
  timeline: { kind: string }[];
}
interface HealthWithMonitor {
  monitor: { cycle: { phase: string } | null; active: string[] };
  incidents: { open: IncidentJson[]; recent: IncidentJson[] };
}

describe('studio-api: the monitor on the demo routes', () => {
  it('a breach through /demo/slow opens an incident in /health; recovery writes a post-mortem', async () => {
    const clock = createFakeClock();
    const keel = createKeel({ service: 'studio-api-test', clock, runtime: false });
    const dir = mkdtempSync(join(tmpdir(), 'studio-monitor-'));
    const monitor = startMonitor(keel, {
      ...monitorOptionsFromEnv({ KEEL_MONITOR_VALIDATE_MS: '60000', KEEL_MONITOR_RECOVERY_MS: '120000' }),
      dir,
      stabilityWindow: 120_000,
    });
    const server = await new Promise<Server>((resolve) => {
      const s = createApp(keel).listen(0, '127.0.0.1', () => resolve(s));
    });
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const health = async () => (await (await fetch(`${base}/health`)).json()) as HealthWithMonitor;

    // Provoke: 20 requests of 250 ms (real time) against a 200 ms p95 budget, two intervals running.
    for (let round = 0; round < 2; round++) {
      const answers = await Promise.all(Array.from({ length: 20 }, () => fetch(`${base}/demo/slow?ms=250`)));
      expect(answers.every((r) => r.status === 200)).toBe(true);
      await clock.advanceAsync(keel.config.interval);
    }
    const during = await health();
    expect(during.incidents.open).toHaveLength(1);
    const incident = during.incidents.open[0]!;
    expect(incident.severity).toMatch(/^SEV[1-4]$/);
    expect(incident.timeline.map((e) => e.kind)).toContain('detected');
    // The monitor acted: load shedding is the built-in that applies to a slow route.
    expect(during.monitor.active.concat(during.monitor.cycle ? ['cycle'] : [])).not.toHaveLength(0);
    expect((await fetch(`${base}/demo/slow?ms=1`)).status).toBe(503);

    // Recovery: the slow traffic stops and fast traffic goes on. (Silence alone would not do:
    // a budget that loses its traffic keeps its last score with data; no data is not health.)
    for (let i = 0; i < 60; i++) {
      await Promise.all(Array.from({ length: 12 }, () => fetch(`${base}/api/users/1`)));
      await clock.advanceAsync(keel.config.interval);
    }
    await monitor.settled();
    const after = await health();
    expect(after.incidents.open).toEqual([]);
    const resolved = after.incidents.recent[0]!;
    expect(resolved).toMatchObject({ id: incident.id, status: 'resolved' });
    expect(resolved.postMortemPath).toBe(join(dir, 'postmortems', `${incident.id}.md`));
    expect(existsSync(resolved.postMortemPath!)).toBe(true);
    const pm = readFileSync(resolved.postMortemPath!, 'utf8');
    expect(pm).toContain('## Timeline');
    expect(pm).toContain('shed-load');
    // Once stable the shedding was released on trial and found no longer needed.
    expect(after.monitor.active).toEqual([]);
    expect((await fetch(`${base}/demo/slow?ms=1`)).status).toBe(200);

    await new Promise<void>((resolve) => server.close(() => resolve()));
    await monitor.close();
    await keel.close();
  });
});

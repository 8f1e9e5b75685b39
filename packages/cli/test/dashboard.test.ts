import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveConfigFile } from '@keel/core';
import { describe, expect, it } from 'vitest';
import { prometheusRules } from '../src/index.js';
import { keel, project, SERVER_BUDGETS } from './helpers.js';

describe('keel dashboard --grafana', () => {
  it('writes a dashboard whose queries read only series Keel exports or the rules record', async () => {
    const config = { service: 'shop', budgets: SERVER_BUDGETS };
    const dir = project({ 'keel.config.json': config });
    const { code, stdout } = await keel(['dashboard', '--grafana'], dir);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^written +deploy\/grafana\/shop-keel\.json$/m);
    const dashboard = JSON.parse(readFileSync(join(dir, 'deploy/grafana/shop-keel.json'), 'utf8'));
    expect(dashboard).toMatchObject({
      uid: 'keel-shop',
      title: 'shop: Keel budgets',
      schemaVersion: expect.any(Number),
    });
    expect(dashboard.templating.list[0]).toMatchObject({
      name: 'datasource',
      type: 'datasource',
      query: 'prometheus',
    });
    const titles = dashboard.panels.map((p: { title: string }) => p.title);
    expect(titles).toEqual(
      expect.arrayContaining([
        'Health score (lowest instance)',
        'Budget states (worst instance)',
        'Error budget remaining over 30 days',
        'Burn rate: api_latency',
        'p95 latency per route (estimated from the buckets)',
      ]),
    );
    const recorded = new Set(
      prometheusRules(resolveConfigFile(config))
        .groups.flatMap((g) => g.rules)
        .flatMap((r) => ('record' in r ? [r.record] : [])),
    );
    const queries: string[] = dashboard.panels.flatMap((p: { targets?: { expr: string }[] }) =>
      (p.targets ?? []).map((t) => t.expr),
    );
    for (const q of queries) {
      for (const name of q.match(/\b(?:job|instance)[a-z_]*:[a-z_]+:[a-z_0-9]*/g) ?? []) {
        if (name.endsWith('ratio_rate')) continue; // a regular expression over every window
        expect(recorded, q).toContain(name);
      }
    }
    expect(queries.every((q) => q.includes('job="shop"'))).toBe(true);
  });
});

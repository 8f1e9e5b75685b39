import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '@keel/cli';
import { findPostgres, freePort } from '@keel/dev-postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { expectRulesPass } from '../../../scripts/test/support/promtool.js';
import {
  freshDatabase,
  query,
  type Started,
  startPrometheus,
  startStudioApi,
  waitFor,
} from './support/processes.js';
import { scaledConfig } from './support/scaled-config.js';

// The proof that Keel and Prometheus agree: the example app, twice (one
// instance driven into a breach, one healthy), scraped every second by
// Debian's Prometheus with the rules `keel rules` generates from the same
// config the app runs with, its windows scaled down from minutes to seconds.
const PROMETHEUS = '/usr/bin/prometheus';
const available = existsSync(PROMETHEUS) && spawnSync('promtool', ['--version']).status === 0;
if (!available && process.env.CI) throw new Error('prometheus is missing: apt-get install -y prometheus');
if (!available)
  console.warn(
    "skipped: Keel and Prometheus agree — Debian's prometheus is missing (apt-get install -y prometheus)",
  );

const dir = mkdtempSync(join(tmpdir(), 'keel-prometheus-'));
const processes: Started[] = [];
const cleanups: (() => Promise<void>)[] = [];

afterAll(async () => {
  for (const p of processes.reverse()) await p.stop();
  for (const cleanup of cleanups.reverse()) await cleanup();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

/** keel.config.ts with Keel's windows in seconds (see support/scaled-config.ts). */
const scaled = scaledConfig;
const ERROR_BUDGET = 0.001; // error_rate (< 0.1 % 5xx) and availability (> 99.9 %) alike

/** Sends `paths` together, again and again, until `stop()`. */
function drive(base: string, paths: readonly string[]) {
  let stopped = false;
  const done = (async () => {
    while (!stopped) {
      await Promise.all(paths.map((p) => fetch(`${base}${p}`).then((r) => r.arrayBuffer())));
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await done;
    },
  };
}

interface BurnRateJson {
  /** `<short>/<long>`, e.g. `10s/1m`. */
  windows: string;
  short: number | null;
}
interface BudgetJson {
  name: string;
  samples: number;
  burnRates: BurnRateJson[];
}

async function keelBurn(
  base: string,
  budget: string,
): Promise<{ ratio: number; samples: number } | undefined> {
  const health = (await (await fetch(`${base}/health`)).json()) as { budgets: BudgetJson[] };
  const b = health.budgets.find((x) => x.name === budget)!;
  const short = b.burnRates.find((r) => r.windows.startsWith('10s/'))?.short;
  return short === null || short === undefined
    ? undefined
    : { ratio: short * ERROR_BUDGET, samples: b.samples };
}

describe.skipIf(!available)('Keel and Prometheus agree (keel rules, Debian Prometheus 2.42)', () => {
  it('records what Keel measures, per instance and for the fleet, and pages while the breach lasts', async () => {
    // 1. The rules, from the same config file the app gets, and promtool on them.
    const configFile = join(dir, 'keel.config.json');
    writeFileSync(configFile, JSON.stringify(scaled));
    let stderr = '';
    const code = await run(['rules', '--config', configFile, '--out', join(dir, 'rules')], {
      stdout: () => {},
      stderr: (t) => (stderr += t),
      cwd: dir,
    });
    expect(code, stderr).toBe(0);
    expectRulesPass(join(dir, 'rules'));

    // 2. Two instances, each with its own database, then Prometheus scraping both.
    const server = await findPostgres({ prefix: 'keel-prometheus-pg-' });
    cleanups.push(() => server.stop());
    const urls: string[] = [];
    for (const name of ['a', 'b']) {
      const db = await freshDatabase(server.url, `keel_prometheus_${name}_${process.pid}`);
      cleanups.push(() => db.drop());
      urls.push(db.url);
    }
    const [breaching, healthy] = await Promise.all(
      urls.map((url, i) =>
        startStudioApi({
          KEEL_CONFIG: configFile,
          DATABASE_URL: url,
          KEEL_MONITOR_DIR: join(dir, `monitor-${i}`),
          // The monitor only recommends: a mitigation (shedding) would change the traffic measured here.
          KEEL_MONITOR_DRY_RUN: '1',
        }),
      ),
    );
    processes.push(breaching!, healthy!);
    const a = new URL(breaching!.base).host;
    const b = new URL(healthy!.base).host;
    const prometheus = await startPrometheus({
      dir,
      port: await freePort(),
      job: 'studio-api',
      targets: [a, b],
      ruleFiles: [join(dir, 'rules', 'keel-rules.yaml')],
    });
    processes.push(prometheus);

    // 3. Traffic: the breaching instance answers 2 of every 10 requests with a 500, the other none.
    const breach = drive(breaching!.base, [...Array(8).fill('/api/users/1'), '/demo/error', '/demo/error']);
    const steady = drive(healthy!.base, Array(10).fill('/api/users/1'));
    const recovery: { stop(): Promise<void> }[] = [];
    try {
      const started = Date.now();
      const ratio = (instance: string, window: string) =>
        query(
          prometheus.url,
          `instance:keel_sli_error:ratio_rate${window}{budget="error_rate",instance="${instance}"}`,
        );

      // 3a. Per instance: Prometheus' recorded ratio over 10 s is the burn rate Keel reports for 10 s,
      // times the error budget. Compared once the 500s have run longer than the window (a counter
      // born inside a window is extrapolated differently) and Keel's window holds >= 200 requests
      // (about 600 on an idle machine; fewer when the test runs beside others on two cores).
      const { keel, recorded } = await waitFor(
        'a full 10 s window of the breach',
        async () => {
          if (Date.now() - started < 15_000) return undefined;
          const keel = await keelBurn(breaching!.base, 'error_rate');
          const recorded = (await ratio(a, '10s'))[0]?.value;
          return keel && keel.samples >= 200 && recorded !== undefined ? { keel, recorded } : undefined;
        },
        60_000,
      );
      // Tolerance: both windows see the same constant mix (2 bad in every batch of 10); a window
      // edge can cut a batch, which moves a window's ratio by at most 1.6/n at each edge (n requests
      // in it), and Prometheus' rate spans one scrape interval less than Keel's 10 intervals (n >= 0.8
      // of Keel's count). So the two differ by at most 2 x 3.2 / (0.8 n) = 8/n.
      const tolerance = 8 / keel.samples;
      expect(Math.abs(recorded - keel.ratio)).toBeLessThanOrEqual(tolerance);
      expect(recorded).toBeGreaterThan(0.15);
      // Availability too: the same 500s, times the share of scrapes the instance was ready (all).
      const availability = await keelBurn(breaching!.base, 'availability');
      const recordedAvailability = (
        await query(
          prometheus.url,
          `instance:keel_sli_error:ratio_rate10s{budget="availability",instance="${a}"}`,
        )
      )[0]!.value;
      expect(Math.abs(recordedAvailability - availability!.ratio)).toBeLessThanOrEqual(
        8 / availability!.samples,
      );
      const healthyKeel = await keelBurn(healthy!.base, 'error_rate');
      expect(healthyKeel?.ratio).toBe(0);
      expect((await ratio(b, '10s'))[0]?.value).toBe(0);

      // 3b. The fleet: Prometheus' job-level ratio is the request-weighted mean of the instances'
      // own, at one evaluation (every rule of the group shares its timestamp; 2 s ago it is complete).
      const at = Date.now() / 1000 - 2;
      const fleet = (
        await query(prometheus.url, 'job:keel_sli_error:ratio_rate10s{budget="error_rate"}', at)
      )[0]!;
      const instances = await query(
        prometheus.url,
        'instance:keel_sli_error:ratio_rate10s{budget="error_rate"}',
        at,
      );
      const events = await query(prometheus.url, 'instance:keel_sli_events:rate10s{budget="error_rate"}', at);
      expect(instances.map((s) => s.metric.instance).sort()).toEqual([a, b].sort());
      const weight = (instance: string) => events.find((e) => e.metric.instance === instance)!.value;
      const combined =
        instances.reduce((sum, s) => sum + s.value * weight(s.metric.instance!), 0) /
        instances.reduce((sum, s) => sum + weight(s.metric.instance!), 0);
      expect(fleet.value).toBeGreaterThan(0);
      expect(Math.abs(fleet.value - combined)).toBeLessThanOrEqual(1e-12);

      // 3c. Every query of the generated dashboard is valid PromQL against this Prometheus, and
      // the panels about this traffic have data.
      let out = '';
      expect(
        await run(['dashboard', '--config', configFile, '--out', join(dir, 'grafana'), '--json'], {
          stdout: (t) => (out += t),
          stderr: () => {},
          cwd: dir,
        }),
      ).toBe(0);
      const panels = (JSON.parse(out) as { result: { panels: { title: string; queries: string[] }[] } })
        .result.panels;
      const withData: string[] = [];
      for (const panel of panels) {
        for (const q of panel.queries) {
          const samples = await query(prometheus.url, q.replaceAll('$__rate_interval', '10s'));
          if (samples.length > 0 && !withData.includes(panel.title)) withData.push(panel.title);
        }
      }
      expect(withData).toEqual(
        expect.arrayContaining([
          'Health score (lowest instance)',
          'Health score per instance',
          'Budget states (worst instance)',
          'Error budget remaining over 120 s',
          'Burn rate: availability',
          'Burn rate: error_rate',
          'Burn rate: api_latency',
          'p95 latency per route (estimated from the buckets)',
          'Share of requests slower than 200 ms per route (exact)',
        ]),
      );

      // 3d. The page alert fires while the breach lasts...
      const alert = 'KeelErrorRateBudgetBurn';
      const firing = async () => {
        const res = (await (await fetch(`${prometheus.url}/api/v1/alerts`)).json()) as {
          data: { alerts: { labels: Record<string, string>; state: string }[] };
        };
        return res.data.alerts.filter(
          (x) => x.labels.alertname === alert && x.labels.severity === 'page' && x.state === 'firing',
        );
      };
      const fired = await waitFor('the page alert to fire', async () => {
        const alerts = await firing();
        return alerts.length ? alerts : undefined;
      });
      expect(fired[0]!.labels).toMatchObject({
        job: 'studio-api',
        budget: 'error_rate',
        short: '10s',
        long: '1m',
      });

      // ...and resolves once it is over (the 10 s window empties of 500s).
      await breach.stop();
      recovery.push(drive(breaching!.base, Array(10).fill('/api/users/1')));
      await waitFor(
        'the page alert to resolve',
        async () => ((await firing()).length === 0 ? true : undefined),
        45_000,
      );
    } finally {
      await breach.stop();
      await steady.stop();
      for (const r of recovery) await r.stop();
    }
  }, 240_000);
});

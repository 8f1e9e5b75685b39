import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findPostgres } from '@keel/dev-postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { freshDatabase, startStudioApi, waitFor } from './support/processes.js';

// Issue 15's "Done when", on the example as `pnpm start` runs it (a subprocess, the real
// clock, intervals shortened through the documented variables): a route driven past its
// budget until the monitor sheds it. The 503s Keel answers are in /metrics under that route
// with keel_outcome="shed"; availability and the score fall; shedding is scoped, so another
// route answers 200 throughout; shedding a route whose every request was slow anyway serves
// no user better, so it is rolled back with the reason; the post-mortem says how many
// requests Keel refused.

interface Action {
  mitigation: string;
  outcome: string;
  reason: string | null;
  users: { before: { goodPerSecond?: number } | null; after: { goodPerSecond?: number } | null } | null;
}
interface Incident {
  id: string;
  status: string;
  postMortemPath: string | null;
  actions?: Action[];
  refused?: Record<string, number>;
}
interface Health {
  score: number;
  budgets: { name: string; state: string; value: number | null }[];
  shedding: { active: boolean; routes: string[] | null };
  incidents: { open: Incident[]; recent: Incident[] };
}

const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

describe('the loop tells the truth, on the real example', () => {
  it('sheds only the breaching route, counts its 503s, rolls the shedding back when users were served no better, and states the refusals', async () => {
    const server = await findPostgres({ prefix: 'studio-truth-pg-' });
    cleanups.push(() => server.stop());
    const database = await freshDatabase(server.url, `studio_truth_${process.pid}`);
    cleanups.push(() => database.drop());
    const dir = mkdtempSync(join(tmpdir(), 'studio-truth-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const app = await startStudioApi({
      DATABASE_URL: database.url,
      KEEL_INTERVAL_MS: '1000',
      KEEL_WINDOW_MS: '10000',
      KEEL_MONITOR_DIR: dir,
      KEEL_MONITOR_VALIDATE_MS: '6000',
      KEEL_MONITOR_RECOVERY_MS: '4000',
      KEEL_MONITOR_STABILITY_MS: '4000',
    });
    cleanups.push(() => app.stop());
    const health = async () => (await (await fetch(`${app.base}/health`)).json()) as Health;

    // Eight clients on the slow route; two on a fast one, whose answers are all kept.
    let driving = true;
    const fast: number[] = [];
    const client = async (path: string, seen?: number[]) => {
      while (driving) {
        const res = await fetch(`${app.base}${path}`).catch(() => undefined);
        await res?.arrayBuffer();
        if (res && seen) seen.push(res.status);
        // A shed answer comes back at once: do not spin.
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    const clients = [
      ...Array.from({ length: 8 }, () => client('/demo/slow?ms=600')),
      ...Array.from({ length: 2 }, () => client('/api/users/1', fast)),
    ];

    const shedding = await waitFor(
      'the monitor to shed the slow route',
      async () => {
        const h = await health();
        return h.shedding.active ? h : undefined;
      },
      45_000,
    );
    // Some shed answers, then the measures users feel.
    await new Promise((r) => setTimeout(r, 2500));
    const metrics = await (await fetch(`${app.base}/metrics`)).text();
    const shedLine = metrics
      .split('\n')
      .find(
        (l) =>
          l.startsWith('http_server_request_duration_seconds_count{') &&
          l.includes('http_route="/demo/slow"') &&
          l.includes('http_response_status_code="503"') &&
          l.includes('keel_outcome="shed"'),
      );
    const during = await health();
    const availability = during.budgets.find((b) => b.name === 'availability')!;

    // Validation, then the incident's record of the action.
    const judged = await waitFor(
      'the shedding to be judged',
      async () => {
        const h = await health();
        const action = h.incidents.open
          .concat(h.incidents.recent)
          .flatMap((i) => i.actions ?? [])
          .find((a) => a.mitigation === 'shed-load' && a.outcome !== 'pending');
        return action;
      },
      30_000,
    );
    driving = false;
    await Promise.all(clients);

    // Recovery: fast traffic only, until the incident resolves and its post-mortem is written.
    let recovering = true;
    const recoveryTraffic = (async () => {
      while (recovering) {
        await (await fetch(`${app.base}/api/users/1`)).arrayBuffer();
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const resolved = await waitFor(
      'the incident to resolve with a post-mortem',
      async () => {
        const h = await health();
        const incident = h.incidents.recent.find((i) => i.status === 'resolved' && i.postMortemPath);
        return incident && existsSync(incident.postMortemPath!) ? incident : undefined;
      },
      60_000,
    );
    recovering = false;
    await recoveryTraffic;
    const postMortem = readFileSync(resolved.postMortemPath!, 'utf8');
    const refusedLine = postMortem.split('\n').find((l) => l.includes('Requests refused by Keel'));

    console.log(
      [
        `shedding: routes ${JSON.stringify(shedding.shedding.routes)}`,
        `during: score ${during.score}, availability ${availability.state} (${availability.value} %)`,
        `metrics: ${shedLine}`,
        `fast route while shedding: ${fast.length} answers, ${fast.filter((s) => s !== 200).length} not 200`,
        `shed-load ${judged.outcome}: ${judged.reason}; good req/s ${judged.users?.before?.goodPerSecond} → ${judged.users?.after?.goodPerSecond}`,
        `post-mortem ${resolved.postMortemPath}: ${refusedLine}`,
      ].join('\n'),
    );

    expect(shedding.shedding.routes).toEqual(['/demo/slow']);
    expect(Number(shedLine?.split(' ').pop())).toBeGreaterThan(0);
    expect(during.score).toBeLessThan(8);
    expect(availability.state).toBe('breached');
    expect(fast.length).toBeGreaterThan(20);
    expect(fast.every((s) => s === 200)).toBe(true);
    expect(judged.outcome).toBe('rolled-back');
    expect(judged.reason).toBeTruthy();
    expect(refusedLine).toMatch(/Requests refused by Keel\D*: [1-9]\d*/);
  }, 180_000);
});

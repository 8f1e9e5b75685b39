import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { TrafficProfile } from '@keel/core';
import type { Command, CommandContext, CommandResult } from '../cli/command.js';
import { UsageError } from '../cli/usage-error.js';
import { compareRuns, readLoadReport } from '../loadtest/compare.js';
import { LoadRecorder } from '../loadtest/load-report.js';
import { compareText, loadText } from '../loadtest/load-text.js';
import { replay } from '../loadtest/replay.js';
import { mixOf, readProfile } from '../loadtest/traffic-mix.js';
import {
  AdminError,
  admin,
  adminTarget,
  configOrDefaults,
  parseCount,
  parseDuration,
} from '../optimise/admin-client.js';

export const loadtest: Command = {
  name: 'loadtest',
  summary: 'replay the app’s own traffic and hold the result to the budgets (--compare: before/after)',
  synopsis:
    '<url> [--profile traffic.json] [--duration 30s] [--connections N] [--rate N] [--compare before.json] [--noise 0.1] [--json]\n       keel loadtest --record <url> [--profile traffic.json]',
  maxPositionals: 1,
  options: {
    profile: { type: 'string' },
    record: { type: 'boolean' },
    duration: { type: 'string' },
    connections: { type: 'string' },
    rate: { type: 'string' },
    compare: { type: 'string' },
    noise: { type: 'string' },
    token: { type: 'string' },
  },
  help: `
Replays the app's normal traffic against <url> with autocannon and reports,
per route, p50/p95/p99, error rate and throughput, with the config's HTTP
budgets (latency, error rate) judged by @keel/core over the run.

The traffic comes from the app itself: its Keel records a profile (routes,
methods, rates, a sample of concrete paths per route; query values only
when they are not personal data; no headers, bodies or tokens), served at
<url>/keel/traffic. GET and HEAD routes are replayed in their proportions.

  --record           write the app's profile to --profile (default traffic.json) and stop
  --profile <file>   replay this profile (default: read it from the app now)
  --duration <d>     how long (default 30s)
  --connections <n>  concurrent connections (default 10)
  --rate <n>         requests per second over all connections (default: as fast as answered)
  --compare <file>   an earlier run's --json output: print both with deltas
  --noise <share>    with --compare, smaller p95 changes are noise (default 0.1: 10 %)
  --token <t>        the app's endpoints token (default: KEEL_TOKEN, then the config's)

Exit 1 when a budget is breached, a request got no answer, or (with
--compare) a route got worse beyond noise: its p95 rose more than --noise and
the 95 % confidence intervals of the two p95s (order statistics) do not
overlap, or its error rate's 95 % Wilson intervals do not. Exit 3 when the app
cannot be reached or nothing could be replayed.

--json result: { schema: 'keel-loadtest/1', url, profile, startedAt, durationMs,
  connections, rate, transportErrors, overall, routes: [{ route, requests, errors,
  errorRate, errorRateInterval, perSecond, p50, p95, p99, p50Interval, p95Interval,
  p99Interval }], budgets: [{ name, description, state, value, target, unit, samples }],
  skipped, compare: { noise, routes, budgets, worse } | null };
  with --record: the profile (schema keel-traffic/1)`,
  async run(context) {
    const { resolved, options } = await configOrDefaults(context);
    const url = context.positionals[0];
    const target = adminTarget(url, context, resolved);
    const profilePath = context.values.profile as string | undefined;
    // Every argument is checked before the app is asked anything: a bad one exits 2 whether or not it is up.
    const durationMs = parseDuration('duration', (context.values.duration as string | undefined) ?? '30s');
    const connections = parseCount('connections', (context.values.connections as string | undefined) ?? '10');
    const rate =
      context.values.rate === undefined ? undefined : parseCount('rate', context.values.rate as string);
    const noise = parseNoise(context.values.noise as string | undefined);
    try {
      if (context.values.record) return await record(context, target, profilePath ?? 'traffic.json');
      const compareFile = context.values.compare as string | undefined;
      const before = compareFile && readLoadReport(await readJson(context, compareFile), compareFile);
      const profile = profilePath
        ? readProfile(await readJson(context, profilePath), profilePath)
        : readProfile(await admin<TrafficProfile>(target, '/keel/traffic'), `${target.base}/keel/traffic`);
      const mix = mixOf(profile);
      for (const s of mix.skipped) context.warn(`${s.route}: ${s.reason}`);
      if (mix.requests.length === 0)
        return { incomplete: ['the profile has no GET or HEAD route with a path to replay'] };
      const base = url!.replace(/\/+$/, '');
      context.progress(
        `replaying ${mix.routes.length} route(s) against ${base} for ${durationMs / 1000} s with ${connections} connection(s)...`,
      );
      const recorder = new LoadRecorder(options);
      const startedAt = new Date().toISOString();
      const totals = await replay(
        { url: base, mix, durationMs, connections, rate, progress: context.progress },
        (r, status, ms) => recorder.record(r.method, r.route.slice(r.method.length + 1), status, ms),
      );
      if (recorder.answers === 0) {
        await recorder.finish({
          url: base,
          profile: '',
          startedAt,
          durationMs: 1,
          connections,
          rate: null,
          transportErrors: 0,
          skipped: [],
        });
        return {
          incomplete: [
            `${base} answered no request (${totals.transportErrors} connection errors or timeouts)`,
          ],
        };
      }
      const report = await recorder.finish({
        url: base,
        profile: profilePath ?? `${target.base}/keel/traffic`,
        startedAt,
        durationMs: totals.durationMs,
        connections,
        rate: rate ?? null,
        transportErrors: totals.transportErrors,
        skipped: mix.skipped,
      });
      const failed = report.budgets
        .filter((b) => b.state === 'breached')
        .map((b) => `budget ${b.name} breached: ${b.value} ${b.unit} against ${b.target} ${b.unit}`);
      if (report.transportErrors > 0)
        failed.push(`${report.transportErrors} request(s) got no answer (connection errors, timeouts)`);
      if (!before) return { data: { ...report, compare: null }, text: loadText(report), failed };
      const comparison = compareRuns(before, report, noise);
      failed.push(...comparison.worse);
      return {
        data: { ...report, compare: comparison },
        text: `${loadText(report)}\n\ncompared with ${compareFile}\n${compareText(before, report, comparison)}`,
        failed,
      };
    } catch (error) {
      if (error instanceof AdminError) return { incomplete: [error.message] };
      throw error;
    }
  },
};

async function record(
  context: CommandContext,
  target: ReturnType<typeof adminTarget>,
  path: string,
): Promise<CommandResult> {
  const replayOnly = ['compare', 'duration', 'connections', 'rate', 'noise'].filter(
    (name) => context.values[name] !== undefined,
  );
  if (replayOnly.length > 0)
    throw new UsageError(
      `${replayOnly.map((name) => `--${name}`).join(', ')}: not for --record, which only writes the profile`,
    );
  const profile = readProfile(
    await admin<TrafficProfile>(target, '/keel/traffic'),
    `${target.base}/keel/traffic`,
  );
  const file = resolve(context.cwd, path);
  await writeFile(file, `${JSON.stringify(profile, null, 2)}\n`).catch((error: Error) => {
    throw new UsageError(`--profile ${path}: cannot write: ${error.message}`);
  });
  const replayable = profile.routes.filter(
    (r) => (r.method === 'GET' || r.method === 'HEAD') && r.paths.length > 0,
  );
  const seconds = Math.round((profile.recordedAt - profile.since) / 1000);
  return {
    data: profile,
    text: `recorded ${profile.routes.length} route(s), ${profile.requests} requests over ${seconds} s (${replayable.length} replayable) to ${path}`,
  };
}

async function readJson(context: CommandContext, path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(resolve(context.cwd, path), 'utf8');
  } catch (error) {
    throw new UsageError(`${path}: ${(error as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new UsageError(`${path}: not JSON`);
  }
}

function parseNoise(value: string | undefined): number {
  if (value === undefined) return 0.1;
  const n = Number(value);
  if (!(n >= 0 && n < 10)) throw new UsageError(`--noise: a share from 0 (e.g. 0.1 for 10 %): ${value}`);
  return n;
}

import type { OptimiseCapture, OptimiseReport, OptimiseStatus } from '@keel/core';
import type { Command } from '../cli/command.js';
import { UsageError } from '../cli/usage-error.js';
import { AdminError, admin, adminTarget, configOrDefaults, parseDuration } from '../optimise/admin-client.js';
import { reportText, routesOverBudget } from '../optimise/report-text.js';

/** How often the report is polled for while a capture runs. */
const POLL_MS = 500;
/** How long after the capture's end the report may take (asking the database, ranking). */
const ANALYSIS_GRACE_MS = 60_000;

export const optimise: Command = {
  name: 'optimise',
  summary: 'where a running app’s time goes, ranked bottlenecks and the fix for each',
  synopsis: '<url> [--window <duration>] [--latest] [--token <token>] [--json] [--config <file>]',
  maxPositionals: 1,
  options: { window: { type: 'string' }, latest: { type: 'boolean' }, token: { type: 'string' } },
  help: `
Asks the app at <url> (its Keel optimiser, at <url>/keel/optimise) to capture
for a window: per route, where requests' time goes (database per query
fingerprint, waiting for a pooled connection, cache, the rest), queries per
request, and a CPU profile. Prints the bottlenecks most worth fixing first,
each with its fix: the CREATE INDEX for a scan (with the planner's cost with
a hypothetical index when hypopg is installed), a route to cache, a pool
size, an N+1 query, a CPU-heavy function.

  --window <d>     how long to capture (30s, 2m; default: the app's optimise.captureMs)
  --latest         print the app's latest report, capture nothing
  --token <t>      the app's endpoints token (default: KEEL_TOKEN, then the config's)

Exit 1 when a route is over its latency budget in the capture; 3 when the app
cannot be reached or no report came.

--json result: the report (schema keel-optimise/1, OptimiseReport in @keel/core)`,
  async run(context) {
    const { resolved } = await configOrDefaults(context);
    const target = adminTarget(context.positionals[0], context, resolved);
    const window = context.values.window as string | undefined;
    if (window !== undefined && context.values.latest)
      throw new UsageError('--window and --latest do not go together');
    const windowMs = window === undefined ? undefined : parseDuration('window', window);
    try {
      let report: OptimiseReport | null;
      if (context.values.latest) {
        report = (await admin<{ report: OptimiseReport | null }>(target, '/keel/optimise')).report;
        if (report === null)
          return {
            incomplete: ['the app has no optimisation report yet: run keel optimise without --latest'],
          };
      } else {
        const { capture } = await admin<{ capture: OptimiseCapture }>(
          target,
          `/keel/optimise${windowMs === undefined ? '' : `?windowMs=${windowMs}`}`,
          'POST',
        );
        context.progress(
          `capturing ${capture.id} for ${Math.round((capture.endsAt - capture.startedAt) / 1000)} s (${capture.reason})...`,
        );
        report = await waitForReport(target, capture);
        if (report === null)
          return {
            incomplete: [`no report for ${capture.id} within ${ANALYSIS_GRACE_MS / 1000} s of its end`],
          };
      }
      return { data: report, text: reportText(report), failed: routesOverBudget(report) };
    } catch (error) {
      if (error instanceof AdminError) return { incomplete: [error.message] };
      throw error;
    }
  },
};

async function waitForReport(
  target: ReturnType<typeof adminTarget>,
  capture: OptimiseCapture,
): Promise<OptimiseReport | null> {
  // The app's clock decides when the capture ends; this one only bounds the wait.
  const deadline = Date.now() + (capture.endsAt - capture.startedAt) + ANALYSIS_GRACE_MS;
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    const { status, report } = await admin<{ status: OptimiseStatus; report: OptimiseReport | null }>(
      target,
      '/keel/optimise',
    );
    if (report?.id === capture.id) return report;
    // Idle with another report: this capture ended without one (the app closed during it).
    if (
      status.state === 'idle' &&
      status.capture === null &&
      report?.id !== capture.id &&
      status.latest?.id !== capture.id
    )
      return null;
  }
  return null;
}

import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { DB_SIGNAL, type KeelFileConfig, resolveConfigFile, TTI_SIGNAL } from '@keel/core';
import { AUDIT_SCHEMA } from '../audit/finding.js';
import { formatAudit } from '../audit/report-table.js';
import { type AuditBudgets, runAudit } from '../audit/run-audit.js';
import type { Command } from '../cli/command.js';
import { CONFIG_FILE_NAMES } from '../cli/load-config.js';
import { UsageError } from '../cli/usage-error.js';

/** web-vitals' LCP signal in core (not exported by name). */
const LCP_SIGNAL = 'web_vitals.lcp';

/** The first ungrouped latency budget on `signal`, else the default's target. */
function budgetOn(
  config: KeelFileConfig,
  signal: string,
  fallback: number,
): { target: number; name: string } {
  const found = config.keel.budgets.find(
    (b) => b.kind === 'latency' && b.signal === signal && b.group === undefined,
  );
  return found ? { target: found.target, name: found.name } : { target: fallback, name: 'default' };
}

function list(value: unknown): string[] {
  const values = Array.isArray(value) ? value : value === undefined ? [] : [value];
  return values
    .flatMap((v) => String(v).split(','))
    .map((v) => v.trim())
    .filter(Boolean);
}

export const audit: Command = {
  name: 'audit',
  summary:
    'check a running app and its database: frontend (Lighthouse), API caching and compression, indexes and pool',
  synopsis: '<url> [--db <postgres-url>] [--pages /,/app] [--routes ...] [--instances N] [common options]',
  maxPositionals: 1,
  options: {
    db: { type: 'string' },
    pages: { type: 'string', multiple: true },
    routes: { type: 'string', multiple: true },
    instances: { type: 'string' },
  },
  help: `
Checks a running app against the validation checklist, each finding with a
stable check id, pass/warn/fail, the measured value, the threshold, the
estimated gain and the fix in one sentence.

  frontend   every page through Lighthouse ${'12.2.3'} in Debian's Chromium (/usr/bin/chromium
             or CHROME_PATH; simulated mobile): text compression, modern image formats,
             image encoding, sizing and lazy loading, minified JS and CSS, unused JS,
             total byte weight and the largest files, long cache TTL, render-blocking
             files, lab TTI and LCP against the config's page_load and lcp budgets.
             Without Chromium or the lighthouse package the part is skipped (exit 3).
  api        every GET route (the JSON route listing at /, routes Keel recorded in
             /health, or --routes): br/gzip for text over 1 KiB, ETag or Last-Modified
             and a 304, Cache-Control, keep-alive, size on the wire, Vary; and the
             pages' static files: content-hashed names served immutable.
  database   the app's own pool metrics (/metrics): saturation and p95 acquire wait;
             with --db, @keel/pg's advisor: missing, unused, duplicate, redundant and
             invalid indexes, slow statements (pg_stat_statements) against the
             db_latency budget, vacuum and analyze, and pool max x instances against
             max_connections.

  <url>               the app, e.g. http://localhost:3000
  --db <url>          the app's PostgreSQL (needs @keel/pg and pg installed)
  --pages <paths>     pages for Lighthouse, comma-separated (default: the listing's
                      pages, else / when it is HTML)
  --routes <routes>   routes to check, "GET /x" or "/x", comma-separated or repeated
                      (default: the app's route listing and /health)
  --instances <n>     instances sharing the database (default: kubernetes.replicas.max
                      from the config when set, else 1)

The config (keel.config.*, or --config) is optional: without one the default
budgets apply. Progress goes to stderr; Lighthouse takes 10-20 s a page.

--json result (schema ${AUDIT_SCHEMA}, described by
@keel/cli/schema/audit-result.schema.json): { auditSchema, url, lighthouse,
  budgets: { tti, lcp, dbLatency }, parts: { frontend, api, database: { ran, skipped } },
  summary: { pass, warn, fail }, pages: [...], routes: [...],
  findings: [{ check, category, target, status, value, threshold, unit,
  measured, expected, gain: { bytes, ms } | null, fix }] }
Exit: 1 when a finding fails, else 3 when a part could not run, else 0.`,
  async run(context) {
    const [url] = context.positionals;
    if (!url) throw new UsageError('say which app to audit: keel audit <url>');
    let base: URL;
    try {
      base = new URL(url);
    } catch {
      throw new UsageError(`not a URL: ${url}`);
    }
    if (base.protocol !== 'http:' && base.protocol !== 'https:')
      throw new UsageError(`the app's URL must be http or https (got ${base.protocol})`);
    const db = (context.values.db as string | undefined) ?? null;
    if (db !== null && !/^postgres(ql)?:\/\//.test(db))
      throw new UsageError('--db must be a postgres:// or postgresql:// URL');
    const instancesGiven = context.values.instances as string | undefined;
    if (instancesGiven !== undefined && !/^[1-9]\d{0,3}$/.test(instancesGiven))
      throw new UsageError(`--instances must be an integer from 1 to 9999 (got ${instancesGiven})`);

    // The config is optional here: an app without one is audited against the default budgets.
    const hasConfig =
      context.values.config !== undefined ||
      CONFIG_FILE_NAMES.some((name) => existsSync(resolve(context.cwd, name)));
    const loaded = hasConfig ? await context.config() : null;
    const config = loaded?.resolved ?? resolveConfigFile({});
    const tti = budgetOn(config, TTI_SIGNAL, 3000);
    const lcp = budgetOn(config, LCP_SIGNAL, 2500);
    const budgets: AuditBudgets = {
      tti: tti.target,
      ttiBudget: tti.name,
      lcp: lcp.target,
      lcpBudget: lcp.name,
      dbLatency: budgetOn(config, DB_SIGNAL, 100).target,
    };
    const replicas = loaded?.options.kubernetes?.replicas?.max;
    const instances = instancesGiven
      ? { count: Number(instancesGiven), source: '--instances' }
      : replicas !== undefined
        ? { count: config.kubernetes.replicas.max, source: 'kubernetes.replicas.max' }
        : { count: 1, source: 'default' };

    const outcome = await runAudit({
      url: base.href,
      db,
      pages: list(context.values.pages),
      routes: list(context.values.routes),
      instances,
      budgets,
      env: process.env,
      progress: context.progress,
    });
    for (const note of outcome.notes) context.warn(note);
    const colour = process.stdout.isTTY === true && process.env.NO_COLOR === undefined;
    return {
      data: outcome.result,
      text: formatAudit(outcome.result, colour),
      failed: outcome.result.findings.filter((f) => f.status === 'fail').map((f) => `${f.check} ${f.target}`),
      incomplete: outcome.incomplete,
    };
  },
};

import { checkAsset, checkRoute } from './api-checks.js';
import { findChromium, launchChromium } from './chromium.js';
import { advisorFindings, poolPressureFindings, poolSizeFinding } from './database-checks.js';
import { assetsInHtml, discover } from './discovery.js';
import {
  AUDIT_SCHEMA,
  type AuditCategory,
  type AuditedPage,
  type AuditedRoute,
  type AuditFinding,
  type AuditPart,
  type AuditResult,
} from './finding.js';
import { frontendFindings, staticAssetsOf } from './frontend-checks.js';
import { probe } from './http-probe.js';
import { loadLighthouse, runLighthouse } from './lighthouse.js';
import { type PoolNumbers, poolNumbers } from './pool-metrics.js';

export interface AuditBudgets {
  readonly tti: number;
  readonly ttiBudget: string;
  readonly lcp: number;
  readonly lcpBudget: string;
  readonly dbLatency: number;
}

export interface AuditRequest {
  /** The app's base URL. */
  readonly url: string;
  readonly db: string | null;
  readonly pages: readonly string[];
  readonly routes: readonly string[];
  readonly instances: { readonly count: number; readonly source: string };
  readonly budgets: AuditBudgets;
  readonly env: NodeJS.ProcessEnv;
  progress(message: string): void;
}

export interface AuditOutcome {
  readonly result: AuditResult;
  /** Parts that could not run, in words: the run's exit code is 3 when nothing failed. */
  readonly incomplete: readonly string[];
  readonly notes: readonly string[];
}

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * Runs the whole audit against a running app: the pages through Lighthouse,
 * the routes and static files over HTTP, the database through @keel/pg's
 * advisor and the app's own pool metrics. A part that cannot run is reported
 * and skipped; the others still run.
 */
export async function runAudit(request: AuditRequest): Promise<AuditOutcome> {
  const { url, budgets, progress } = request;
  const findings: AuditFinding[] = [];
  const pages: AuditedPage[] = [];
  const routes: AuditedRoute[] = [];
  const incomplete: string[] = [];
  const notes: string[] = [];
  const skipped: Record<AuditCategory, string[]> = { frontend: [], api: [], database: [] };
  const ran: Record<AuditCategory, boolean> = { frontend: false, api: false, database: false };
  const skip = (category: AuditCategory, reason: string, counts = true) => {
    skipped[category].push(reason);
    if (counts) incomplete.push(`${category}: ${reason}`);
  };
  let lighthouseVersion: string | null = null;

  progress(`keel audit: reading the routes of ${url}`);
  let discovery: Awaited<ReturnType<typeof discover>> | null = null;
  try {
    discovery = await discover(url, { routes: request.routes, pages: request.pages });
    notes.push(...discovery.notes);
  } catch (error) {
    skip('frontend', `cannot reach ${url}: ${message(error)}`);
    skip('api', `cannot reach ${url}: ${message(error)}`);
  }

  // ---- database: first, so the audit's own requests below (a route may query) are not what it judges ----
  let pool: PoolNumbers | null = null;
  if (discovery) {
    try {
      const metrics = await probe(new URL(discovery.metricsPath, url).href, { accept: 'text/plain' });
      if (metrics.status === 200) pool = poolNumbers(metrics.body.toString('utf8'));
      else notes.push(`${discovery.metricsPath} answered ${metrics.status}: pool metrics not read`);
    } catch (error) {
      notes.push(`${discovery.metricsPath}: ${message(error)}`);
    }
  }
  if (!pool)
    skip(
      'database',
      'the app exports no @keel/pg pool metrics: pool saturation and acquire wait not checked',
      false,
    );
  else {
    findings.push(...poolPressureFindings(pool, budgets.dbLatency, 'pool'));
    ran.database = true;
  }
  if (!request.db) {
    skip('database', 'no --db: indexes, slow queries, maintenance and max_connections not checked', false);
  } else {
    progress('keel audit: the database advisor');
    try {
      const { advise } = await import('@keel/pg');
      const report = await advise(request.db, { thresholds: { slowStatementMs: budgets.dbLatency } });
      findings.push(...advisorFindings(report, budgets.dbLatency));
      if (pool) findings.push(poolSizeFinding(pool, request.instances, report));
      ran.database = true;
    } catch (error) {
      const code = (error as { code?: string }).code;
      skip(
        'database',
        code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND'
          ? 'the database checks need @keel/pg and pg (npm install -D @keel/pg pg)'
          : message(error),
      );
    }
  }

  // ---- frontend ----
  const assets = new Set<string>();
  if (discovery && discovery.pages.length === 0) skip('frontend', 'no HTML page to audit (pass --pages)');
  if (discovery && discovery.pages.length > 0) {
    for (const path of discovery.pages) {
      try {
        const page = await probe(new URL(path, url).href, { accept: 'text/html' });
        for (const asset of assetsInHtml(page.body.toString('utf8'), new URL(path, url).href))
          assets.add(asset);
      } catch (error) {
        notes.push(`${path}: ${message(error)}`);
      }
    }
    const chromium = findChromium(request.env);
    const lighthouse = chromium ? await loadLighthouse() : null;
    if (!chromium)
      skip(
        'frontend',
        request.env.CHROME_PATH
          ? `CHROME_PATH=${request.env.CHROME_PATH} is not an executable browser: the pages were not measured`
          : "no Chromium found (install Debian's chromium or set CHROME_PATH): the pages were not measured",
      );
    else if (!lighthouse)
      skip(
        'frontend',
        'Lighthouse is not installed (npm install -D lighthouse@12.2.3): the pages were not measured',
      );
    else {
      const browser = await launchChromium(chromium).catch((error: unknown) => {
        skip('frontend', `cannot start ${chromium}: ${message(error)}`);
        return null;
      });
      if (browser) {
        try {
          for (const [i, path] of discovery.pages.entries()) {
            const pageUrl = new URL(path, url).href;
            progress(`keel audit: Lighthouse on ${path} (${i + 1}/${discovery.pages.length}), about 10-20 s`);
            try {
              const run = await runLighthouse(lighthouse, pageUrl, browser.port);
              lighthouseVersion = run.lhr.lighthouseVersion;
              const checked = frontendFindings(run, path, budgets);
              pages.push({ ...checked.page, url: pageUrl });
              findings.push(...checked.findings);
              for (const asset of staticAssetsOf(run)) assets.add(asset);
              ran.frontend = true;
            } catch (error) {
              skip('frontend', `${path}: ${message(error)}`);
            }
          }
        } finally {
          await browser.close();
        }
      }
    }
  }

  // ---- api ----
  if (discovery) {
    const live = discovery.routes.filter((r) => r.skipped === null);
    for (const r of discovery.routes)
      if (r.skipped)
        routes.push({
          route: r.route,
          path: r.path,
          status: null,
          contentType: null,
          bytes: null,
          skipped: r.skipped,
        });
    if (live.length === 0 && assets.size === 0) skip('api', 'no route to check (pass --routes)');
    for (const [i, r] of live.entries()) {
      progress(`keel audit: ${r.path} (${i + 1}/${live.length})`);
      try {
        const checked = await checkRoute(url, r.route, r.path);
        routes.push(checked.route);
        findings.push(...checked.findings);
        ran.api = true;
      } catch (error) {
        skip('api', `${r.path}: ${message(error)}`);
      }
    }
    if (assets.size > 0) progress(`keel audit: ${assets.size} static files`);
    for (const asset of [...assets].sort()) {
      try {
        findings.push(await checkAsset(asset, new URL(asset).pathname));
        ran.api = true;
      } catch (error) {
        skip('api', `${asset}: ${message(error)}`);
      }
    }
  }

  const summary = { pass: 0, warn: 0, fail: 0 };
  for (const f of findings) summary[f.status]++;
  const part = (c: AuditCategory): AuditPart => ({
    ran: ran[c],
    skipped: skipped[c].length ? skipped[c].join('; ') : null,
  });
  return {
    result: {
      auditSchema: AUDIT_SCHEMA,
      url,
      lighthouse: lighthouseVersion,
      budgets: { tti: budgets.tti, lcp: budgets.lcp, dbLatency: budgets.dbLatency },
      parts: { frontend: part('frontend'), api: part('api'), database: part('database') },
      summary,
      pages,
      routes,
      findings,
    },
    incomplete,
    notes,
  };
}

import { type AuditedPage, type AuditFinding, type AuditStatus, formatBytes, formatMs } from './finding.js';
import type { LhrAudit, LighthouseRun, TraceEvent } from './lighthouse.js';

/**
 * A frontend check read from one Lighthouse opportunity: Lighthouse lists the
 * resources over its own per-resource threshold (its `score` is 0 then), and
 * its savings are the estimated gain.
 */
interface Opportunity {
  readonly check: string;
  readonly audit: string;
  /** Lighthouse 12.2.3's per-resource threshold under which it lists nothing, in `unit`. */
  readonly threshold: number;
  readonly unit: 'bytes' | 'ms';
  readonly expected: string;
  readonly fix: string;
}

const OPPORTUNITIES: readonly Opportunity[] = [
  {
    check: 'frontend.text-compression',
    audit: 'uses-text-compression',
    threshold: 1400,
    unit: 'bytes',
    expected: 'every text resource compressed (gzip or brotli would save < 1400 B)',
    fix: 'Compress text responses with brotli or gzip (the compression middleware, or at the proxy or CDN).',
  },
  {
    check: 'frontend.modern-image-formats',
    audit: 'modern-image-formats',
    threshold: 8192,
    unit: 'bytes',
    expected: 'images as WebP or AVIF (AVIF would save < 8 KiB each)',
    fix: 'Serve images as WebP or AVIF, with a <picture> fallback only where old browsers matter.',
  },
  {
    check: 'frontend.optimized-images',
    audit: 'uses-optimized-images',
    threshold: 4096,
    unit: 'bytes',
    expected: 'JPEGs encoded at quality 85 or lower (re-encoding saves < 4 KiB)',
    fix: 'Re-encode JPEG images at quality 85 or lower (or switch them to WebP or AVIF).',
  },
  {
    check: 'frontend.responsive-images',
    audit: 'uses-responsive-images',
    threshold: 4096,
    unit: 'bytes',
    expected: 'images no larger than displayed (resizing saves < 4 KiB, < 12 KiB with srcset)',
    fix: 'Serve each image at the size it is shown: srcset and sizes with a few widths.',
  },
  {
    check: 'frontend.offscreen-images',
    audit: 'offscreen-images',
    threshold: 2048,
    unit: 'bytes',
    expected: 'images below the fold loaded after the page is interactive',
    fix: 'Lazy-load images below the fold with loading="lazy" (and give them width and height).',
  },
  {
    check: 'frontend.minified-js',
    audit: 'unminified-javascript',
    threshold: 2048,
    unit: 'bytes',
    expected: 'JavaScript minified (minifying saves < 2 KiB or < 10 % per file)',
    fix: 'Ship the production build: minified JavaScript, source maps as separate files, not inline.',
  },
  {
    check: 'frontend.minified-css',
    audit: 'unminified-css',
    threshold: 2048,
    unit: 'bytes',
    expected: 'CSS minified (minifying saves < 2 KiB or < 5 % per file)',
    fix: 'Minify CSS in the production build and keep source maps out of the served file.',
  },
  {
    check: 'frontend.unused-js',
    audit: 'unused-javascript',
    threshold: 20 * 1024,
    unit: 'bytes',
    expected: 'under 20 KiB of unused JavaScript per script at load',
    fix: 'Split code the page does not run at load into chunks loaded on demand (dynamic import()).',
  },
  {
    check: 'frontend.render-blocking',
    audit: 'render-blocking-resources',
    threshold: 50,
    unit: 'ms',
    expected: 'no stylesheet or script delaying the first paint by 50 ms or more',
    fix: 'Inline the critical CSS, load the rest without blocking, and load scripts with defer or type="module".',
  },
];

/** Lighthouse 12's scoring points for total byte weight (its default config): pass at p10, fail past the median. */
export const BYTE_WEIGHT = { pass: 2667 * 1024, fail: 4000 * 1024 } as const;

/** What a warning says to do when Lighthouse could not measure something. */
const RERUN =
  'Run the audit again; if Lighthouse still cannot measure it, open the page in Chrome DevTools to see why.';

export interface FrontendBudgets {
  readonly tti: number;
  readonly lcp: number;
}

function items(audit: LhrAudit | undefined): readonly Record<string, unknown>[] {
  return audit?.details?.items ?? [];
}

function urlsOf(list: readonly Record<string, unknown>[], origin: string): string {
  const names = list.map((i) => String(i.url ?? '').replace(origin, '') || '(page)');
  return names.length > 3 ? `${names.slice(0, 3).join(', ')} and ${names.length - 3} more` : names.join(', ');
}

/**
 * Render-blocking requests from the trace, for when Lighthouse's own audit
 * fails (12.2.3's trace engine cannot parse the screenshots of recent
 * Chromium builds). Each blocking request is priced as Lighthouse's
 * simulation would: one round trip plus its bytes at the throttled bandwidth;
 * requests load in parallel, so the first paint waits for the slowest.
 */
function renderBlockingFromTrace(run: LighthouseRun): { urls: string[]; ms: number; bytes: number } {
  const throttling = run.lhr.configSettings.throttling;
  const sizes = new Map<string, number>();
  for (const item of items(run.lhr.audits['network-requests']))
    sizes.set(String(item.url), Number(item.transferSize ?? 0));
  const urls = run.traceEvents
    .filter(
      (e: TraceEvent) => e.name === 'ResourceSendRequest' && e.args?.data?.renderBlocking === 'blocking',
    )
    .map((e) => String(e.args!.data!.url));
  let ms = 0;
  let bytes = 0;
  for (const url of urls) {
    const size = sizes.get(url) ?? 0;
    bytes += size;
    ms = Math.max(ms, throttling.rttMs + (size * 8) / throttling.throughputKbps);
  }
  return { urls, ms: Math.round(ms), bytes };
}

function opportunity(o: Opportunity, run: LighthouseRun, path: string, origin: string): AuditFinding {
  const audit = run.lhr.audits[o.audit];
  const base = {
    check: o.check,
    category: 'frontend' as const,
    target: path,
    unit: o.unit,
    expected: o.expected,
  };
  if (o.audit === 'render-blocking-resources' && (audit?.score === null || audit === undefined)) {
    const found = renderBlockingFromTrace(run);
    const fail = found.urls.length > 0 && found.ms >= o.threshold;
    return {
      ...base,
      status: fail ? 'fail' : 'pass',
      value: found.ms,
      threshold: o.threshold,
      measured: found.urls.length
        ? `${found.urls.length} blocking (${urlsOf(
            found.urls.map((url) => ({ url })),
            origin,
          )}): ~${formatMs(found.ms)} at Lighthouse's throttling`
        : 'nothing blocks the first paint',
      gain: fail ? { bytes: null, ms: found.ms } : null,
      fix: fail ? o.fix : null,
    };
  }
  if (!audit || audit.score === null) {
    return {
      ...base,
      status: 'warn',
      value: null,
      threshold: o.threshold,
      measured: `Lighthouse could not run ${o.audit}: ${audit?.errorMessage ?? 'not in the report'}`,
      gain: null,
      fix: RERUN,
    };
  }
  const listed = items(audit);
  const bytes = Math.round(audit.details?.overallSavingsBytes ?? 0);
  const ms = Math.round(audit.details?.overallSavingsMs ?? 0);
  const fail = listed.length > 0;
  const value = o.unit === 'bytes' ? bytes : ms;
  return {
    ...base,
    status: fail ? 'fail' : 'pass',
    value,
    threshold: o.threshold,
    measured: fail
      ? `${o.unit === 'bytes' ? formatBytes(bytes) : formatMs(ms)} to save in ${listed.length} file${listed.length === 1 ? '' : 's'} (${urlsOf(listed, origin)})`
      : 'nothing to save',
    gain: fail ? { bytes: o.unit === 'bytes' ? bytes : null, ms } : null,
    fix: fail ? o.fix : null,
  };
}

function metric(
  check: string,
  label: string,
  audit: LhrAudit | undefined,
  target: number,
  budget: string,
  path: string,
  fix: string,
): AuditFinding {
  const value = audit?.numericValue === undefined ? null : Math.round(audit.numericValue);
  const status: AuditStatus = value === null ? 'warn' : value <= target ? 'pass' : 'fail';
  return {
    check,
    category: 'frontend',
    target: path,
    status,
    value,
    threshold: target,
    unit: 'ms',
    measured: value === null ? `Lighthouse measured no ${label}` : `lab ${label} ${formatMs(value)}`,
    expected: `≤ ${formatMs(target)} (${budget})`,
    gain: status === 'fail' && value !== null ? { bytes: null, ms: value - target } : null,
    fix: status === 'fail' ? fix : status === 'warn' ? RERUN : null,
  };
}

/** The checks of one page from its Lighthouse run, and what the page loaded. */
export function frontendFindings(
  run: LighthouseRun,
  path: string,
  budgets: FrontendBudgets & { readonly ttiBudget: string; readonly lcpBudget: string },
): { page: Omit<AuditedPage, 'url'>; findings: AuditFinding[] } {
  const origin = new URL(run.lhr.finalDisplayedUrl).origin;
  const audits = run.lhr.audits;
  const findings = OPPORTUNITIES.map((o) => opportunity(o, run, path, origin));

  const cache = audits['uses-long-cache-ttl'];
  const short = items(cache);
  findings.push({
    check: 'frontend.long-cache-ttl',
    category: 'frontend',
    target: path,
    status: cache?.score === null || !cache ? 'warn' : short.length > 0 ? 'fail' : 'pass',
    value: short.length,
    threshold: 0,
    unit: 'count',
    measured: short.length
      ? `${short.length} static files cached briefly or not at all (${urlsOf(short, origin)})`
      : 'every static file cached long',
    expected: 'static files cached long enough to be reused (about 30 days or more)',
    gain: short.length ? { bytes: Math.round(cache?.numericValue ?? 0), ms: null } : null,
    fix: short.length
      ? 'Give static files content-hashed names and serve them with Cache-Control: public, max-age=31536000, immutable.'
      : cache?.score === null || !cache
        ? RERUN
        : null,
  });

  const weight = audits['total-byte-weight'];
  const total = weight?.numericValue === undefined ? null : Math.round(weight.numericValue);
  const largest = items(weight)
    .slice(0, 5)
    .map((i) => ({ url: String(i.url), bytes: Math.round(Number(i.totalBytes ?? 0)) }));
  const weightStatus: AuditStatus =
    total === null
      ? 'warn'
      : total <= BYTE_WEIGHT.pass
        ? 'pass'
        : total <= BYTE_WEIGHT.fail
          ? 'warn'
          : 'fail';
  findings.push({
    check: 'frontend.total-byte-weight',
    category: 'frontend',
    target: path,
    status: weightStatus,
    value: total,
    threshold: BYTE_WEIGHT.pass,
    unit: 'bytes',
    measured:
      total === null
        ? 'Lighthouse measured no byte weight'
        : `${formatBytes(total)}; largest: ${largest
            .slice(0, 3)
            .map((l) => `${l.url.replace(origin, '')} ${formatBytes(l.bytes)}`)
            .join(', ')}`,
    expected: `≤ ${formatBytes(BYTE_WEIGHT.pass)} (fail over ${formatBytes(BYTE_WEIGHT.fail)})`,
    gain: total !== null && weightStatus !== 'pass' ? { bytes: total - BYTE_WEIGHT.pass, ms: null } : null,
    fix:
      weightStatus === 'pass'
        ? null
        : total === null
          ? RERUN
          : 'Cut the heaviest files first: images at the size shown in a modern format, code split and minified.',
  });

  findings.push(
    metric(
      'frontend.lab-tti',
      'TTI',
      audits.interactive,
      budgets.tti,
      `${budgets.ttiBudget} budget`,
      path,
      'Load less JavaScript before the page is usable and break long tasks up; the gains above are where to start.',
    ),
    metric(
      'frontend.lab-lcp',
      'LCP',
      audits['largest-contentful-paint'],
      budgets.lcp,
      `${budgets.lcpBudget} budget`,
      path,
      'Make the largest element arrive sooner: a small, modern-format hero image, no render-blocking files before it.',
    ),
  );

  return {
    page: {
      path,
      tti:
        audits.interactive?.numericValue === undefined ? null : Math.round(audits.interactive.numericValue),
      lcp:
        audits['largest-contentful-paint']?.numericValue === undefined
          ? null
          : Math.round(audits['largest-contentful-paint'].numericValue),
      totalBytes: total,
      largest,
    },
    findings,
  };
}

/** Same-origin static files a page loaded (scripts, styles, images, fonts), for the CDN-readiness check. */
export function staticAssetsOf(run: LighthouseRun): string[] {
  const origin = new URL(run.lhr.finalDisplayedUrl).origin;
  return items(run.lhr.audits['network-requests'])
    .filter(
      (i) =>
        ['Script', 'Stylesheet', 'Image', 'Font', 'Media'].includes(String(i.resourceType)) &&
        Number(i.statusCode) === 200 &&
        String(i.url).startsWith(`${origin}/`),
    )
    .map((i) => String(i.url));
}

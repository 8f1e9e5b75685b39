import { type Metric, onCLS, onFCP, onINP, onLCP, onTTFB } from 'web-vitals';
import { compileTemplate, pageGroupOf } from './page-group.js';
import { QUIET_MS, type Span, ttiSearch } from './tti.js';

export interface CollectVitalsOptions {
  /**
   * Where beacons go: the app's collector (`@keel/core`, mounted by
   * `@keel/express` / `@keel/fastify`). Nothing is ever sent anywhere else.
   * @default '/keel/vitals'
   */
  endpoint?: string;
  /** Share of page views measured, from 0 to 1; decided once per page view. @default 1 */
  sampleRate?: number;
  /**
   * Route templates, so ids in URLs do not multiply series: `/products/:id`
   * (`:name` matches one segment, a trailing `*` the rest). The first match
   * wins; unmatched paths have numeric, UUID and long token segments
   * replaced by `:id`.
   * @default []
   */
  pageGroups?: string[];
  /** Decide the page group yourself (overrides `pageGroups`). @default from `location.pathname` */
  pageGroup?: (location: Location) => string;
  /**
   * The page token the app made for this page (`keel.vitals.pageToken(group)`,
   * needed when the app sets `vitals.secret`), sent with every beacon.
   * @default the `content` of `<meta name="keel-vitals-token">`, if the page has one
   */
  token?: string;
}

type Entry = { name: string; value: number; censored?: true };

/**
 * Measures this page view — LCP, INP, CLS, FCP and TTFB through Google's
 * `web-vitals`, and Time To Interactive by Lighthouse's rules — and sends
 * them to the app in one beacon when the page is hidden.
 *
 * ```ts
 * import { collectVitals } from '@keel/web-vitals';
 * collectVitals({ pageGroups: ['/products/:id'] });
 * ```
 *
 * Invalid options throw at once; after that nothing it does throws into the page.
 */
export function collectVitals(options: CollectVitalsOptions = {}): void {
  const { endpoint = '/keel/vitals', sampleRate = 1, pageGroups = [], pageGroup, token } = options;
  const fail = (option: string, rule: string) => {
    throw new TypeError(`@keel/web-vitals: option \`${option}\` ${rule}`);
  };
  if (typeof endpoint !== 'string' || !endpoint) fail('endpoint', 'must be a URL');
  if (!(sampleRate >= 0 && sampleRate <= 1)) fail('sampleRate', 'must be a number from 0 to 1');
  if (!Array.isArray(pageGroups) || pageGroups.some((t) => typeof t !== 'string' || t[0] !== '/')) {
    fail('pageGroups', 'must be an array of paths like "/products/:id"');
  }
  if (pageGroup !== undefined && typeof pageGroup !== 'function') fail('pageGroup', 'must be a function');
  if (token !== undefined && typeof token !== 'string') fail('token', 'must be a string');
  if (typeof document === 'undefined' || Math.random() >= sampleRate) return;

  try {
    const page = pageGroup
      ? String(pageGroup(location))
      : pageGroupOf(
          location.pathname,
          pageGroups.map((t) => [compileTemplate(t), t]),
        );
    const pageToken =
      token ??
      (document.querySelector<HTMLMetaElement>('meta[name="keel-vitals-token"]')?.content || undefined);
    // Per metric name: the instance (web-vitals id) and its latest value, until the next beacon.
    const queue = new Map<string, [string, Entry]>();
    const sent = new Set<string>();

    const flush = () => {
      if (!queue.size) return;
      const metrics: Entry[] = [];
      for (const [id, entry] of queue.values()) {
        sent.add(id);
        metrics.push(entry);
      }
      queue.clear();
      const body = JSON.stringify({ page, token: pageToken, metrics });
      // A string is sent as text/plain: no CORS preflight, even to another origin.
      if (!navigator.sendBeacon?.(endpoint, body)) {
        // keepalive lets the request outlive the page, within the browser's 64 KB for all such bodies.
        fetch(endpoint, { method: 'POST', body, keepalive: body.length < 65_000 }).catch(() => {});
      }
    };
    const add = (name: string, value: number, id: string, censored?: boolean) => {
      // One value per metric per beacon: another instance (after a back/forward-cache restore) starts the next.
      const held = queue.get(name);
      if (held && held[0] !== id) flush();
      const entry: Entry = { name, value: +value.toFixed(name === 'CLS' ? 4 : 1) };
      if (censored) entry.censored = true;
      queue.set(name, [id, entry]);
    };
    // Every change is kept until the page is hidden, so the beacon carries the value at that moment
    // (web-vitals may settle an interaction only during the hide itself). Each instance is sent once:
    // a tab reopened many times is not counted many times.
    const report = (m: Metric) => {
      if (!sent.has(m.id)) add(m.name, m.value, m.id);
    };
    const all = { reportAllChanges: true };

    const tti = observeTTI(add);
    onFCP((m) => {
      report(m);
      tti.start(m.value);
    });
    onLCP(report, all);
    onINP(report, all);
    onCLS(report, all);
    onTTFB(report);

    const hide = () => {
      tti.hidden();
      flush();
    };
    // Bubble phase on window: web-vitals reports on the capture phase, so its values are queued first.
    addEventListener('visibilitychange', () => document.visibilityState === 'hidden' && hide());
    // Chromium and Firefox fire pagehide first, while the page is still visible, and then the
    // visibilitychange that sends everything in one beacon; a pagehide after hiding sends what is left.
    addEventListener('pagehide', () => document.visibilityState === 'hidden' && hide());
  } catch {
    // A browser without the APIs measures nothing; the page must not notice.
  }
}

/**
 * Field TTI: long tasks from a `longtask` observer, finished requests from
 * Resource Timing, checked again whenever a quiet window could have ended.
 * Browsers without long-task timing (Firefox, Safari) report no TTI rather
 * than a wrong one.
 */
function observeTTI(add: (name: string, value: number, id: string, censored?: boolean) => void) {
  const noop = { start() {}, hidden() {} };
  if (!PerformanceObserver.supportedEntryTypes?.includes('longtask')) return noop;
  const tasks: Span[] = [];
  const requests: Span[] = [];
  const take = (list: PerformanceEntryList) => {
    for (const e of list) {
      if (e.entryType === 'longtask') tasks.push({ s: e.startTime, e: e.startTime + e.duration });
      // Beacons are POSTs sent at the end; every other resource load is a GET or stands for one.
      else if ((e as PerformanceResourceTiming).initiatorType !== 'beacon') {
        requests.push({ s: e.startTime, e: (e as PerformanceResourceTiming).responseEnd });
      }
    }
  };
  const observer = new PerformanceObserver((list) => take(list.getEntries()));
  observer.observe({ type: 'longtask', buffered: true });
  observer.observe({ type: 'resource', buffered: true });
  let search: ReturnType<typeof ttiSearch> | undefined;
  let fcp = -1;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let done = false;

  const finish = (censored: boolean) => {
    done = true;
    clearTimeout(timer);
    observer.disconnect();
    if (search) add('TTI', search.value, 'TTI', censored);
  };
  /** Feeds what was observed (pending entries too) and decides, or waits for the window's end. */
  const check = () => {
    if (done) return;
    take(observer.takeRecords());
    if (!search) {
      const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming | undefined;
      const dcl = nav?.domContentLoadedEventEnd ?? 0;
      if (!dcl) {
        timer = setTimeout(check, 100);
        return;
      }
      search = ttiSearch(Math.max(fcp, dcl));
    }
    if (search.update(tasks.splice(0), requests.splice(0), performance.now())) finish(false);
    else timer = setTimeout(check, search.start + QUIET_MS - performance.now());
  };
  return {
    start(value: number) {
      if (fcp < 0) {
        fcp = value;
        check();
      }
    },
    /** Hidden before a quiet window was confirmed: send the lower bound, flagged. */
    hidden() {
      if (done || fcp < 0) return;
      take(observer.takeRecords());
      if (!search) search = ttiSearch(fcp);
      finish(!search.update(tasks.splice(0), requests.splice(0), performance.now()));
    },
  };
}

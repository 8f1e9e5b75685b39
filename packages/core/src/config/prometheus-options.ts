import type { BurnRateWindow } from '../budgets/budget-options.js';
import type { KeelConfig } from '../options.js';
import {
  type Check,
  isNonEmptyString,
  isPositiveInteger,
  isPositiveNumber,
  OptionReader,
} from './option-reader.js';

/** What `keel rules` and `keel dashboard` generate, in a config file's `prometheus` section. */
export interface PrometheusOptions {
  /**
   * Label matchers (exact values) that select this service's series in
   * Prometheus; they scope every rule.
   * @default { job: <kubernetes.name> } (the service's name unless set)
   */
  selector?: Record<string, string>;
  /**
   * The SLO period, ms: the longest recorded window, over which "error budget
   * remaining" is measured; a multiple of `window.interval`.
   * @default 2592000000 (30 days)
   */
  period?: number;
  /**
   * Window pairs of the ticket alerts. Page alerts use `burnRateWindows`, the
   * pairs Keel itself alerts on in process.
   * @default 2h/1d at 3× and 6h/3d at 1× (the SRE workbook's)
   */
  ticketWindows?: BurnRateWindow[];
  /** Budgets whose rules and alerts are split per group of their signal (per route, query, page group). @default [] */
  perGroup?: string[];
  /** Alerts link `<runbookUrl>#<budget>` in a `runbook_url` annotation. @default none: a `runbook` annotation says where to look */
  runbookUrl?: string;
  /** Labels added to every alert (e.g. `team`). @default {} */
  alertLabels?: Record<string, string>;
  /** Labels on the `PrometheusRule` object, for the operator's `ruleSelector`. @default {} */
  ruleLabels?: Record<string, string>;
  /** Where autoscalers (KEDA) query Prometheus. @default 'http://prometheus-operated.monitoring.svc:9090' */
  url?: string;
}

export interface PrometheusConfig {
  readonly selector: Readonly<Record<string, string>>;
  readonly period: number;
  /** Keel's `burnRateWindows`. */
  readonly pageWindows: readonly BurnRateWindow[];
  readonly ticketWindows: readonly BurnRateWindow[];
  readonly perGroup: readonly string[];
  readonly runbookUrl: string | undefined;
  readonly alertLabels: Readonly<Record<string, string>>;
  readonly ruleLabels: Readonly<Record<string, string>>;
  readonly url: string;
}

const KEYS = [
  'selector',
  'period',
  'ticketWindows',
  'perGroup',
  'runbookUrl',
  'alertLabels',
  'ruleLabels',
  'url',
];
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const DEFAULT_TICKET_WINDOWS: readonly BurnRateWindow[] = [
  { short: 2 * HOUR, long: DAY, factor: 3 },
  { short: 6 * HOUR, long: 3 * DAY, factor: 1 },
];
const isHttpUrl: Check = (v) => typeof v === 'string' && /^https?:\/\/[^\s]+$/.test(v);

/** Validates the `prometheus` section against the engine's resolved config (its interval, budgets); `job` is the default selector's. */
export function resolvePrometheusOptions(value: unknown, keel: KeelConfig, job: string): PrometheusConfig {
  const reader = new OptionReader('keel config');
  const o = reader.object('prometheus', value);
  reader.known('prometheus', o, KEYS);
  const { interval } = keel;
  const nearest = (ms: number) => Math.max(1, Math.round(ms / interval)) * interval;
  const multiple: Check = (v) => isPositiveInteger(v) && (v as number) % interval === 0;
  const multipleRule = `must be a positive multiple of window.interval (${interval} ms)`;

  const ticketWindows =
    o.ticketWindows === undefined
      ? DEFAULT_TICKET_WINDOWS.map((w) =>
          Object.freeze({ short: nearest(w.short), long: nearest(w.long), factor: w.factor }),
        )
      : readWindows(reader, o.ticketWindows, multiple, multipleRule);
  const windows = [...keel.burnRateWindows, ...ticketWindows];
  const longest = Math.max(...windows.map((w) => w.long));
  const period = reader.read(
    'prometheus.period',
    o.period,
    Math.max(nearest(30 * DAY), longest),
    (v) => multiple(v) && (v as number) >= longest,
    `${multipleRule}, at least the longest alert window (${longest} ms)`,
  );

  const perGroup = reader.read<string[]>(
    'prometheus.perGroup',
    o.perGroup,
    [],
    (v) => Array.isArray(v) && v.every((n) => typeof n === 'string'),
    'must be an array of budget names',
  );
  perGroup.forEach((name, i) => {
    const budget = keel.budgets.find((b) => b.name === name);
    const signal = budget && keel.signals.find((s) => s.name === budget.signal);
    if (!budget || !signal)
      throw reader.fail(`prometheus.perGroup[${i}]`, 'must name a budget that is on', name);
    if (!signal.groupBy || budget.group !== undefined)
      throw reader.fail(
        `prometheus.perGroup[${i}]`,
        `must name a budget over all groups of a signal with groupBy (${name} ${budget.group !== undefined ? `is fixed to group "${budget.group}"` : `reads ${signal.name}, which has no groupBy`})`,
        name,
      );
  });

  return Object.freeze({
    selector: reader.labels('prometheus.selector', o.selector, { job }),
    period,
    pageWindows: keel.burnRateWindows,
    ticketWindows: Object.freeze(ticketWindows),
    perGroup: Object.freeze([...new Set(perGroup)]),
    runbookUrl: reader.read<string | undefined>(
      'prometheus.runbookUrl',
      o.runbookUrl,
      undefined,
      isHttpUrl,
      'must be an http(s) URL',
    ),
    alertLabels: reader.labels('prometheus.alertLabels', o.alertLabels, {}),
    ruleLabels: reader.labels('prometheus.ruleLabels', o.ruleLabels, {}),
    url: reader.read(
      'prometheus.url',
      o.url,
      'http://prometheus-operated.monitoring.svc:9090',
      (v) => isHttpUrl(v) && isNonEmptyString(v),
      'must be an http(s) URL',
    ),
  });
}

function readWindows(reader: OptionReader, value: unknown, multiple: Check, rule: string): BurnRateWindow[] {
  if (!Array.isArray(value) || value.length === 0)
    throw reader.fail(
      'prometheus.ticketWindows',
      'must be a non-empty array of { short, long, factor }',
      value,
    );
  return value.map((w, i) => {
    const path = `prometheus.ticketWindows[${i}]`;
    const o = reader.object(path, w);
    reader.known(path, o, ['short', 'long', 'factor']);
    const short = reader.read<number | undefined>(`${path}.short`, o.short, undefined, multiple, rule);
    const long = reader.read<number | undefined>(`${path}.long`, o.long, undefined, multiple, rule);
    const factor = reader.read<number | undefined>(
      `${path}.factor`,
      o.factor,
      undefined,
      isPositiveNumber,
      'must be a number > 0',
    );
    if (short === undefined || long === undefined || factor === undefined)
      throw reader.fail(path, 'needs short, long and factor', w);
    if (short >= long) throw reader.fail(`${path}.short`, 'must be shorter than long', short);
    return Object.freeze({ short, long, factor });
  });
}

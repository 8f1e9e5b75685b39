import {
  type BudgetOptions,
  invalidOptionOf,
  type KeelConfig,
  type KeelFileOptions,
  prometheusName,
  type SignalDefinition,
} from '@keel/core';
import { STATUS_LABEL } from '../rules/sli.js';
import { ANNOTATION } from './export.js';

export interface OpenSloImport {
  /** A config with the imported budgets (Keel's defaults stay on unless one is replaced). */
  readonly options: KeelFileOptions;
  /** SLOs that map to no Keel budget, and why. */
  readonly skipped: readonly { name: string; reason: string }[];
  readonly warnings: readonly string[];
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : {};

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

function durationMs(value: unknown): number | undefined {
  const match = typeof value === 'string' ? /^(\d+)([smhdw])$/.exec(value) : null;
  return match ? Number(match[1]) * UNIT_MS[match[2]!]! : undefined;
}

/** `label="value"` (and `=~`, `!=`, `!~`) matchers of every selector in a PromQL query. */
function matchers(query: string): { label: string; op: string; value: string }[] {
  return [...query.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"/g)].map((m) => ({
    label: m[1]!,
    op: m[2]!,
    value: m[3]!.replace(/\\(.)/g, '$1'),
  }));
}

function signalIn(query: string, signals: readonly SignalDefinition[]): SignalDefinition | undefined {
  return signals.find((s) => new RegExp(`\\b${prometheusName(s)}_(bucket|count|sum)\\b`).test(query));
}

/** Prometheus reports seconds; a Keel signal in ms takes the value times 1000. */
function toUnit(seconds: number, signal: SignalDefinition): number {
  return signal.unit === 'ms' ? Number((seconds * 1000).toPrecision(12)) : seconds;
}

/**
 * Keel budgets from OpenSLO v1 `SLO` documents. Keel's own exports carry
 * `keel.dev/*` annotations and come back unchanged; other SLOs are read from
 * their Prometheus queries when they use Keel's metrics: a ratio of the
 * `le` bucket to the count (latency), of 5xx to all requests (error rate, or
 * availability when stated as good events), or a threshold on
 * `histogram_quantile` (latency).
 */
export function fromOpenSlo(documents: readonly unknown[], keel: KeelConfig): OpenSloImport {
  const budgets: Record<string, BudgetOptions> = {};
  const skipped: { name: string; reason: string }[] = [];
  const warnings: string[] = [];
  let service: string | undefined;
  let period: number | undefined;
  for (const document of documents) {
    const doc = obj(document);
    if (doc.kind !== 'SLO') continue;
    if (doc.apiVersion !== 'openslo/v1') {
      skipped.push({
        name: String(obj(doc.metadata).name),
        reason: `apiVersion ${String(doc.apiVersion)} is not openslo/v1`,
      });
      continue;
    }
    const metadata = obj(doc.metadata);
    const spec = obj(doc.spec);
    const annotations = obj(metadata.annotations) as Record<string, string>;
    const sloService = typeof spec.service === 'string' ? spec.service : undefined;
    service ??= sloService;
    const rawName = String(annotations[ANNOTATION.budget] ?? metadata.name ?? '');
    const name = (
      sloService && rawName.startsWith(`${sloService}-`) ? rawName.slice(sloService.length + 1) : rawName
    )
      .toLowerCase()
      .replace(/-/g, '_');
    if (name in budgets)
      throw invalidOptionOf(
        'keel slo import',
        `budgets.${name}`,
        'is defined twice: two SLOs have this name; rename one',
        rawName,
      );
    const objective = obj(obj((spec.objectives as unknown[])?.[0]));
    const target =
      typeof objective.target === 'number'
        ? objective.target
        : typeof objective.targetPercent === 'number'
          ? objective.targetPercent / 100
          : undefined;
    const window = durationMs(obj((spec.timeWindow as unknown[])?.[0]).duration);
    if (window !== undefined) {
      if (period !== undefined && period !== window)
        warnings.push(`${rawName}: time window differs from the others; the SLO period stays ${period} ms`);
      period ??= window;
    }
    if (annotations[ANNOTATION.kind]) {
      budgets[name] = {
        kind: annotations[ANNOTATION.kind] as BudgetOptions['kind'],
        signal: annotations[ANNOTATION.signal]!,
        target: Number(annotations[ANNOTATION.target]),
        ...(annotations[ANNOTATION.percentile]
          ? { percentile: Number(annotations[ANNOTATION.percentile]) }
          : {}),
        ...(annotations[ANNOTATION.group] !== undefined ? { group: annotations[ANNOTATION.group] } : {}),
      };
      continue;
    }
    if (target === undefined) {
      skipped.push({ name: rawName, reason: 'no objective target' });
      continue;
    }
    const indicator = obj(obj(spec.indicator).spec);
    const ratio = obj(indicator.ratioMetric);
    const threshold = obj(indicator.thresholdMetric);
    const queryOf = (part: unknown) => String(obj(obj(obj(part).metricSource).spec).query ?? '');
    const budget = indicator.ratioMetric
      ? fromRatio(queryOf(ratio.good), queryOf(ratio.bad), queryOf(ratio.total), target, keel.signals)
      : indicator.thresholdMetric
        ? fromThreshold(queryOf(threshold), objective, keel.signals)
        : 'neither an inline ratioMetric nor a thresholdMetric (indicatorRef is not followed)';
    if (typeof budget === 'string') {
      skipped.push({ name: rawName, reason: budget });
      continue;
    }
    if (indicator.thresholdMetric)
      warnings.push(
        `${rawName}: Keel judges p${budget.percentile} over requests (occurrences), not the share of good time slices`,
      );
    budgets[name] = budget;
  }
  return {
    options: {
      ...(service ? { service } : {}),
      budgets,
      ...(period !== undefined ? { prometheus: { period } } : {}),
    },
    skipped,
    warnings,
  };
}

function groupOf(query: string, signal: SignalDefinition): { group?: string } {
  const m = signal.groupBy
    ? matchers(query).find((x) => x.label === signal.groupBy && x.op === '=')
    : undefined;
  return m ? { group: m.value } : {};
}

function fromRatio(
  good: string,
  bad: string,
  total: string,
  target: number,
  signals: readonly SignalDefinition[],
): BudgetOptions | string {
  const signal = signalIn(total || good || bad, signals);
  if (!signal) return 'its queries read none of the metrics Keel exports';
  const le = matchers(good).find((m) => m.label === 'le' && m.op === '=');
  if (le) {
    return {
      kind: 'latency',
      signal: signal.name,
      percentile: Number((target * 100).toPrecision(12)),
      target: toUnit(Number(le.value), signal),
      ...groupOf(total, signal),
    };
  }
  if (matchers(good || bad).some((m) => m.label === STATUS_LABEL)) {
    return bad
      ? {
          kind: 'error_rate',
          signal: signal.name,
          target: Number(((1 - target) * 100).toPrecision(12)),
          ...groupOf(total, signal),
        }
      : {
          kind: 'availability',
          signal: signal.name,
          target: Number((target * 100).toPrecision(12)),
          ...groupOf(total, signal),
        };
  }
  return `its ratio uses neither an le bucket nor ${STATUS_LABEL}, so Keel cannot tell its good events`;
}

function fromThreshold(
  query: string,
  objective: Json,
  signals: readonly SignalDefinition[],
): BudgetOptions | string {
  const quantile = /histogram_quantile\(\s*([0-9.]+)\s*,/.exec(query);
  const signal = signalIn(query, signals);
  if (!quantile || !signal)
    return 'a threshold metric Keel can judge is a histogram_quantile over a Keel histogram';
  if (objective.op !== 'lte' && objective.op !== 'lt')
    return `op ${String(objective.op)}: a latency threshold needs lte or lt`;
  if (typeof objective.value !== 'number') return 'the objective has no numeric value';
  return {
    kind: 'latency',
    signal: signal.name,
    percentile: Number((Number(quantile[1]) * 100).toPrecision(12)),
    target: toUnit(objective.value, signal),
    ...groupOf(query, signal),
  };
}

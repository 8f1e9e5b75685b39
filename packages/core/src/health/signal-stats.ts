import type { SignalSet } from '../signals/signal-set.js';
import type { WindowSummary } from '../signals/window.js';
import { type GroupStats, round, type SignalStats } from './report.js';

/** How many groups per signal `/health` lists as hotspots. */
const TOP_GROUPS = 5;

/** Each signal over `window` intervals: its percentiles, and the groups that consumed the most time. */
export function signalStats(signals: SignalSet, window: number): SignalStats[] {
  return signals.list().map((signal) => {
    const summary = signal.summarize(signals.summaryOf(signal), window);
    // Rank groups by time consumed from the cheap per-slot totals; build quantiles for the top few only.
    const ranked = [...signal.groups.values()]
      .map((group) => {
        let total = 0;
        let samples = 0;
        for (const slot of group.ring.closed(window)) {
          total += slot.sum;
          samples += slot.count;
        }
        return { group, total, samples };
      })
      .filter((g) => g.samples > 0)
      .sort((a, b) => b.total - a.total)
      .slice(0, TOP_GROUPS);
    const overall = statsOf(summary);
    const top: GroupStats[] = ranked.map(({ group }) => {
      const s = signal.summarize(signal.newSummary(), window, group.key);
      return { group: group.key, ...statsOf(s), total: round(s.sum) };
    });
    return {
      name: signal.definition.name,
      unit: signal.definition.unit,
      ...overall,
      series: signal.seriesCount,
      overflowed: signal.overflowed,
      top,
    };
  });
}

function statsOf(s: WindowSummary) {
  return {
    samples: s.count,
    errorRatio: s.count === 0 ? 0 : round(s.bad / s.count),
    p50: nullableRound(s.quantile(0.5)),
    p95: nullableRound(s.quantile(0.95)),
    p99: nullableRound(s.quantile(0.99)),
  };
}

function nullableRound(value: number | null): number | null {
  return value === null ? null : round(value);
}

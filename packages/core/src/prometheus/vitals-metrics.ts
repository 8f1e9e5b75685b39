import type { VitalsStats } from '../vitals/collector.js';
import { renderMetric } from './exposition.js';

/** The collector's counters in the Prometheus text format. */
export function renderVitalsMetrics(collector: { stats(): VitalsStats }): string {
  const s = collector.stats();
  return (
    renderMetric('keel_web_vitals_beacons_total', 'counter', 'Web-vitals beacons received, by outcome.', [
      [{ outcome: 'accepted' }, s.accepted],
      // Answered but not recorded: the client had used its per-window quota.
      [{ outcome: 'capped' }, s.capped],
      ...Object.entries(s.rejected).map(([outcome, n]) => [{ outcome }, n] as const),
    ]) +
    renderMetric(
      'keel_web_vitals_tti_censored_total',
      'counter',
      'TTI values from pages hidden before TTI was confirmed (lower bounds); recorded="true" when past the page-load target.',
      [
        [{ recorded: 'true' }, s.censoredRecorded],
        [{ recorded: 'false' }, s.censored - s.censoredRecorded],
      ],
    ) +
    renderMetric('keel_web_vitals_page_groups', 'gauge', 'Page groups admitted by the vitals collector.', [
      [null, s.pageGroups],
    ])
  );
}

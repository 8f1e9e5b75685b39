import type { VitalsStats } from '../vitals/collector.js';
import type { MetricFamily } from './exposition.js';

/** The web-vitals collector's counters as metric families. */
export function vitalsMetricFamilies(collector: { stats(): VitalsStats }): MetricFamily[] {
  const s = collector.stats();
  return [
    {
      name: 'keel_web_vitals_beacons_total',
      type: 'counter',
      help: 'Web-vitals beacons received, by outcome.',
      samples: [
        [{ outcome: 'accepted' }, s.accepted],
        // Answered but not recorded: the client had used its per-window quota.
        [{ outcome: 'capped' }, s.capped],
        ...Object.entries(s.rejected).map(([outcome, n]) => [{ outcome }, n] as const),
      ],
    },
    {
      name: 'keel_web_vitals_tti_censored_total',
      type: 'counter',
      help: 'TTI values from pages hidden before TTI was confirmed (lower bounds); recorded="true" when past the page-load target.',
      samples: [
        [{ recorded: 'true' }, s.censoredRecorded],
        [{ recorded: 'false' }, s.censored - s.censoredRecorded],
      ],
    },
    {
      name: 'keel_web_vitals_page_groups',
      type: 'gauge',
      help: 'Page groups admitted by the vitals collector.',
      samples: [[null, s.pageGroups]],
    },
  ];
}

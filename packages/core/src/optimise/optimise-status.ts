import type { BottleneckKind, OptimiseCapture, OptimiseEffort, OptimiseReport } from './optimise-report.js';

/** Bottlenecks `/health` lists from the latest report; the admin endpoint has them all. */
const LISTED = 5;

/** One bottleneck as `/health` shows it. */
export interface BottleneckSummary {
  readonly rank: number;
  readonly kind: BottleneckKind;
  readonly effort: OptimiseEffort;
  readonly route: string | null;
  readonly userSecondsPerMinute: number;
  readonly title: string;
  readonly fix: string;
  /** What the fix costs or saves in capacity, in one line (see `Bottleneck.cost`); `null` when it changes none. */
  readonly cost: string | null;
}

/** The `optimise` section of `/health`: small and bounded (times as ISO strings). */
export interface OptimiseStatus {
  /** `capturing` (recording), `analysing` (asking the database, ranking) or `idle`. */
  readonly state: 'idle' | 'capturing' | 'analysing';
  readonly triggerMs: number;
  readonly capture: {
    readonly id: string;
    readonly reason: string;
    readonly startedAt: string;
    readonly endsAt: string;
  } | null;
  /** While in cooldown: when an automatic capture may start again. */
  readonly automaticFrom: string | null;
  /** The last CPU profile: when, and what it blocked the event loop for, ms. */
  readonly lastProfile: { readonly at: string; readonly costMs: number } | null;
  readonly latest: {
    readonly id: string;
    readonly reason: string;
    readonly startedAt: string;
    readonly endedAt: string;
    readonly requests: number;
    readonly bottlenecks: number;
    readonly top: readonly BottleneckSummary[];
    readonly notes: readonly string[];
  } | null;
}

const iso = (ms: number) => new Date(ms).toISOString();

export function optimiseStatus(s: {
  state: OptimiseStatus['state'];
  triggerMs: number;
  capture: OptimiseCapture | null;
  automaticFrom: number | null;
  lastProfile: { at: number; costMs: number } | null;
  latest: OptimiseReport | null;
}): OptimiseStatus {
  const { latest } = s;
  return {
    state: s.state,
    triggerMs: s.triggerMs,
    capture: s.capture && {
      id: s.capture.id,
      reason: s.capture.reason,
      startedAt: iso(s.capture.startedAt),
      endsAt: iso(s.capture.endsAt),
    },
    automaticFrom: s.automaticFrom === null ? null : iso(s.automaticFrom),
    lastProfile: s.lastProfile && { at: iso(s.lastProfile.at), costMs: s.lastProfile.costMs },
    latest: latest && {
      id: latest.id,
      reason: latest.reason,
      startedAt: iso(latest.startedAt),
      endedAt: iso(latest.endedAt),
      requests: latest.requests,
      bottlenecks: latest.bottlenecks.length,
      top: latest.bottlenecks.slice(0, LISTED).map((b) => ({
        rank: b.rank,
        kind: b.kind,
        effort: b.effort,
        route: b.route,
        userSecondsPerMinute: b.impact.userSecondsPerMinute,
        title: b.title,
        fix: b.fix,
        cost: b.cost?.text ?? null,
      })),
      notes: latest.notes.slice(0, LISTED),
    },
  };
}

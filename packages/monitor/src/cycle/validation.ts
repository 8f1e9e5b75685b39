import { formatDuration } from '../incidents/post-mortem.js';
import type { Measurement } from '../measure.js';
import type { Mitigation } from '../mitigations/mitigation.js';
import type { MonitorConfig } from '../options.js';
import type { TrafficRates } from '../traffic/traffic-meter.js';
import { candidates } from './choose-mitigation.js';
import type { CycleHost } from './cycle-host.js';
import type { StepKind } from './cycle-state.js';

type JudgeConfig = Pick<MonitorConfig, 'minImprovement' | 'healthyScore' | 'minGoodGain' | 'maxRefusedShare'>;

/** The verdict on a mitigation on trial, from its measured before and after. */
export interface Verdict {
  readonly keep: boolean;
  /** Kept although it refuses most requests, because nothing else is left to try. */
  readonly lastResort: boolean;
  /** Why it is kept or not, in words. */
  readonly reason: string;
  /** The measured numbers, before → after. */
  readonly effect: string;
  /** It served users better but refuses most requests: worth trying again when nothing else is left. */
  readonly deferred?: boolean;
}

const pct = (v: number) => `${Math.round(v * 1000) / 10} %`;
const signed = (v: number) => `${v >= 0 ? '+' : ''}${Math.round(v * 1000) / 1000}`;

function scoreEffect(before: Measurement, after: Measurement): string {
  const gain = Math.round((after.score - before.score) * 100) / 100;
  return `score ${before.score} → ${after.score} (${signed(gain)}), p95 ${before.p95 ?? '—'} → ${after.p95 ?? '—'} ms`;
}

function trafficEffect(b: TrafficRates, a: TrafficRates): string {
  return `good ${b.goodPerSecond} → ${a.goodPerSecond} req/s of ${b.requestsPerSecond} → ${a.requestsPerSecond} offered, refused by Keel ${pct(b.refusedShare)} → ${pct(a.refusedShare)}`;
}

/**
 * Keeps a mitigation only when users were served better, net of what it
 * refused itself: good requests per second (answered by the app, within the
 * latency budget, not a server error) rose by at least `minGoodGain` of the
 * requests per second offered. A refusal is never "good", so shedding cannot
 * win by turning slow answers into fast 503s. One that refuses more than
 * `maxRefusedShare` of the requests is kept only as a stated last resort,
 * when no other mitigation is left to try (`othersLeft` empty). Without HTTP
 * traffic before and after, there is nothing users felt: the score decides.
 */
export function judge(
  before: Measurement,
  after: Measurement,
  healthyNow: boolean,
  othersLeft: readonly string[],
  config: JudgeConfig,
): Verdict {
  const score = scoreEffect(before, after);
  const b = before.traffic;
  const a = after.traffic;
  if (!b || !a || (b.requests === 0 && a.requests === 0)) {
    const gain = Math.round((after.score - before.score) * 100) / 100;
    const keep = gain >= config.minImprovement || (healthyNow && before.score < config.healthyScore);
    return {
      keep,
      lastResort: false,
      effect: score,
      reason: `no HTTP requests before or after to judge by: the score ${keep ? 'rose' : 'did not rise'} enough (${signed(gain)}, needed +${config.minImprovement} or healthy again)`,
    };
  }
  const effect = `${trafficEffect(b, a)}; ${score}`;
  if (a.requests === 0)
    return {
      keep: false,
      lastResort: false,
      effect,
      reason: 'no requests after it: nothing shows users were served better',
    };
  const offered = Math.max(b.requestsPerSecond, a.requestsPerSecond);
  const gain = a.goodPerSecond - b.goodPerSecond;
  const needed = Math.round(config.minGoodGain * offered * 1000) / 1000;
  if (!(gain > 0 && gain >= needed))
    return {
      keep: false,
      lastResort: false,
      effect,
      reason: `users were not served better: good requests ${signed(gain)}/s, needed +${needed}/s (${pct(config.minGoodGain)} of the traffic offered)`,
    };
  if (a.refusedShare > config.maxRefusedShare) {
    if (othersLeft.length > 0)
      return {
        keep: false,
        lastResort: false,
        deferred: true,
        effect,
        reason: `good requests ${signed(gain)}/s, but it refuses ${pct(a.refusedShare)} of requests (over ${pct(config.maxRefusedShare)}); less harmful mitigations are left to try first: ${othersLeft.join(', ')}`,
      };
    return {
      keep: true,
      lastResort: true,
      effect,
      reason: `kept as a last resort: good requests ${signed(gain)}/s, but it refuses ${pct(a.refusedShare)} of requests and no other mitigation is left to try`,
    };
  }
  return {
    keep: true,
    lastResort: false,
    effect,
    reason: `users were served better: good requests ${signed(gain)}/s (needed +${needed}/s)`,
  };
}

/** Good requests per second lost from `b` to `a`, and the loss allowed as noise: `minGoodGain` of the traffic offered. */
function goodLoss(b: TrafficRates, a: TrafficRates, config: JudgeConfig): { loss: number; allowed: number } {
  return {
    loss: b.goodPerSecond - a.goodPerSecond,
    allowed: config.minGoodGain * Math.max(b.requestsPerSecond, a.requestsPerSecond),
  };
}

/** Requests since a mitigation went on trial before it may be judged early: a few refusals prove nothing. */
const EARLY_MIN_REQUESTS = 20;

/**
 * Whether the mitigation on trial plainly hurts users, so that waiting for
 * `validateAfter` would only prolong the harm: Keel itself refuses more than
 * `maxRefusedShare` of the requests, and good requests per second fell by
 * more than `minGoodGain` of the traffic offered (the users it turns away were
 * being served well). Returns why, in words, or `null`. Such a trial can never
 * be kept (`judge` keeps only a gain), so ending it early changes no verdict,
 * only how long users bear it.
 */
export function plainHarm(
  before: TrafficRates | null,
  after: TrafficRates | null,
  config: JudgeConfig,
): string | null {
  if (!before || !after || before.requests === 0 || after.requests < EARLY_MIN_REQUESTS) return null;
  if (!(after.refusedShare > config.maxRefusedShare)) return null;
  const { loss, allowed } = goodLoss(before, after, config);
  if (!(loss > allowed)) return null;
  return `it refuses ${pct(after.refusedShare)} of requests and good requests fell ${signed(-loss)}/s (${before.goodPerSecond} → ${after.goodPerSecond} req/s)`;
}

/**
 * Whether a mitigation released on trial is still needed: the app is no
 * longer healthy, or users are served worse without it (good requests per
 * second fell by more than `minGoodGain` of the traffic offered; without
 * traffic, the score fell by more than `minImprovement`).
 */
export function judgeRelease(
  before: Measurement,
  after: Measurement,
  healthyNow: boolean,
  config: JudgeConfig,
): { needed: boolean; effect: string } {
  const b = before.traffic;
  const a = after.traffic;
  if (b && a && b.requests > 0 && a.requests > 0) {
    const { loss, allowed } = goodLoss(b, a, config);
    return {
      needed: !healthyNow || loss > allowed,
      effect: `${trafficEffect(b, a)}; score ${before.score} → ${after.score}`,
    };
  }
  return {
    needed: !healthyNow || after.score < before.score - config.minImprovement,
    effect: `score ${before.score} → ${after.score}`,
  };
}

/**
 * Measures the mitigation on trial and keeps it, rolls it back, or records
 * that it did not help and cannot be undone; then the cycle acts again.
 */
export async function validate(host: CycleHost, m: Mitigation): Promise<void> {
  const cycle = host.cycle;
  const current = cycle?.current;
  if (!cycle || !current || host.standingDown) return;
  cycle.current = null;
  cycle.phase = 'acting';
  const report = host.latest;
  const after = host.measure(report, host.trafficSince(current.since));
  const { before, appliedAt, detail, cutShort } = current;
  const othersLeft = candidates(host, cycle, host.context(report, cycle.trigger)).map((x) => x.name);
  const verdict = judge(before, after, host.healthy(report), othersLeft, host.config);
  // The step kind doubles as the incident action's outcome.
  let kind: StepKind;
  let text: string;
  if (verdict.keep) {
    host.registry.active.push({ mitigation: m, appliedAt, before });
    cycle.kept.push(m.name);
    kind = 'kept';
    text = `${verdict.reason}; ${verdict.effect}`;
  } else if (m.rollback) {
    if (verdict.deferred) cycle.deferred.push(m.name);
    try {
      await m.rollback(host.context(report, cycle.trigger));
      kind = 'rolled-back';
      const early =
        cutShort === undefined
          ? ''
          : `rolled back early, ${formatDuration(host.now() - appliedAt)} after it was applied (${cutShort}); `;
      text = `${early}did not help: ${verdict.reason}; ${verdict.effect}`;
    } catch (error) {
      host.keel.reportError(`mitigation:${m.name}`, error);
      kind = 'rollback-failed';
      text = error instanceof Error ? error.message : String(error);
    }
  } else {
    kind = 'not-helpful';
    text = `did not help and cannot be undone: ${verdict.reason}; ${verdict.effect}`;
  }
  host.step(kind, m.name, text, before, after);
  host.incidents.action({
    mitigation: m.name,
    appliedAt,
    validatedAt: host.now(),
    outcome: kind,
    before,
    after,
    detail,
    reason: verdict.reason,
    // The configured last resort stays one when kept, whatever share it refuses.
    lastResort: verdict.lastResort || (verdict.keep && m.name === host.config.escalation.lastResort),
  });
  await host.act();
}

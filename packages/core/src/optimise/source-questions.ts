import type { Clock, TimerHandle } from '../clock.js';
import type { OptimiseSource, SourceAnswer, SourceQuestion } from './optimise-report.js';
import { round } from './route-breakdown.js';
import type { RouteTally } from './route-tally.js';

/** Fingerprints a capture asks the database sources about: the ones that cost most. */
const ASKED_FINGERPRINTS = 5;
/** A source that has not answered by then is noted and left out. */
const SOURCE_TIMEOUT_MS = 30_000;

/** What a capture asks its sources: the fingerprints that cost most over all routes. */
export function questionOf(
  tallies: readonly RouteTally[],
  windowMs: number,
  instances: number,
): SourceQuestion {
  const byFingerprint = new Map<string, { ms: number; calls: number }>();
  for (const tally of tallies) {
    for (const [fingerprint, f] of tally.fingerprints) {
      const entry = byFingerprint.get(fingerprint);
      if (entry) {
        entry.ms += f.ms;
        entry.calls += f.calls;
      } else byFingerprint.set(fingerprint, { ms: f.ms, calls: f.calls });
    }
  }
  const fingerprints = [...byFingerprint.entries()]
    .sort(([, a], [, b]) => b.ms - a.ms)
    .slice(0, ASKED_FINGERPRINTS)
    .map(([fingerprint, f]) => ({ fingerprint, meanMs: round(f.ms / f.calls), calls: f.calls }));
  return { fingerprints, windowMs, instances };
}

/** Every source's answer, together; one that fails or is late becomes a note (`notes` gets theirs too). */
export async function askSources(
  sources: readonly OptimiseSource[],
  question: SourceQuestion,
  clock: Clock,
  notes: string[],
): Promise<SourceAnswer[]> {
  const answers = await Promise.all(
    sources.map(async (source) => {
      let timer: TimerHandle | undefined;
      try {
        return await Promise.race([
          source.analyse(question),
          new Promise<never>((_, reject) => {
            timer = clock.setTimeout(
              () => reject(new Error(`no answer within ${SOURCE_TIMEOUT_MS} ms`)),
              SOURCE_TIMEOUT_MS,
            );
          }),
        ]);
      } catch (error) {
        notes.push(`${source.name}: ${(error as Error).message}`);
        return null;
      } finally {
        if (timer !== undefined) clock.clearTimeout(timer);
      }
    }),
  );
  const answered = answers.filter((a): a is SourceAnswer => a !== null);
  for (const answer of answered) notes.push(...answer.notes);
  return answered;
}

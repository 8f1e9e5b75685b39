import { describe, expect, it } from 'vitest';
import {
  BUCKETS,
  bucketEstimate,
  bucketLowerBound,
  bucketOf,
  bucketUpperBound,
  buildBoundaryIndex,
  ZERO_BUCKET,
} from '../src/signals/sketch.js';
import { WindowRing, WindowSummary } from '../src/signals/window.js';
import { normal, random } from './helpers.js';

function exactQuantile(sorted: Float64Array, q: number): number {
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1]!;
}

function sketchOf(values: Float64Array): WindowSummary {
  const ring = new WindowRing(1, 0);
  for (const v of values) ring.current.add(bucketOf(v), 0, v, true);
  const summary = new WindowSummary(0);
  summary.addSlot(ring.current);
  return summary;
}

const QUANTILES = [0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999];

describe('log-linear sketch', () => {
  it('puts every value inside its bucket', () => {
    const rand = random(1);
    const outside: number[] = [];
    for (let i = 0; i < 100_000; i++) {
      const v = 10 ** (rand() * 12 - 5);
      const b = bucketOf(v);
      if (!(bucketLowerBound(b) <= v && v < bucketUpperBound(b))) outside.push(v);
    }
    expect(outside).toEqual([]);
  });

  it('sends values below its range to the zero bucket and clamps values above it', () => {
    expect(bucketOf(0)).toBe(ZERO_BUCKET);
    expect(bucketOf(1e-9)).toBe(ZERO_BUCKET);
    expect(bucketOf(1e15)).toBe(BUCKETS - 1);
  });

  it('reports each bucket within 1 % of any value in it', () => {
    for (let b = 0; b < BUCKETS; b++) {
      const est = bucketEstimate(b);
      expect(Math.abs(est - bucketLowerBound(b)) / bucketLowerBound(b)).toBeLessThan(0.008);
      expect(Math.abs(bucketUpperBound(b) - est) / bucketUpperBound(b)).toBeLessThan(0.008);
    }
  });

  it.each([
    [
      'log-normal',
      (rand: () => number) => {
        const n = normal(rand);
        return () => Math.exp(Math.log(80) + 0.9 * n());
      },
    ],
    [
      'bimodal',
      (rand: () => number) => {
        const n = normal(rand);
        return () => (rand() < 0.7 ? Math.max(0.01, 12 + 3 * n()) : Math.exp(Math.log(900) + 0.4 * n()));
      },
    ],
  ])('keeps %s quantiles within 1 %% of exact over 10^6 samples', (_name, make) => {
    const next = make(random(42));
    const values = new Float64Array(1_000_000);
    for (let i = 0; i < values.length; i++) values[i] = next();
    const summary = sketchOf(values);
    const sorted = values.slice().sort();
    for (const q of QUANTILES) {
      const exact = exactQuantile(sorted, q);
      const estimate = summary.quantile(q)!;
      expect(Math.abs(estimate - exact) / exact, `q=${q}: exact ${exact}, sketch ${estimate}`).toBeLessThan(
        0.01,
      );
    }
  });

  it('maps buckets to Prometheus boundaries exactly, comparing raw values only where a bucket straddles one', () => {
    const boundaries = [5, 10, 25, 50, 75, 100, 200, 250, 500];
    const table = buildBoundaryIndex(boundaries);
    const rand = random(7);
    const wrong: number[] = [];
    for (let i = 0; i < 200_000; i++) {
      const v = rand() * 700;
      const found = boundaries.findIndex((b) => v <= b);
      const expected = found === -1 ? boundaries.length : found;
      const fromTable = table[bucketOf(v) + 1]!;
      if (fromTable >= 0 && fromTable !== expected) wrong.push(v);
    }
    expect(wrong).toEqual([]);
    // Exactly on a boundary counts as "le" that boundary.
    const straddling = table[bucketOf(200) + 1];
    expect(straddling === -1 || straddling === 6).toBe(true);
  });
});

import { describe, expect, it } from 'vitest';
import { budgetScore, combineScores, thresholdScore } from '../src/index.js';
import { random } from './helpers.js';

const thresholds = { ok: 20, warn: 100, bad: 500, critical: 2000 };

describe('health score', () => {
  it('scores runtime thresholds: 10 when fine, >= 9 up to warn, 7 at bad, 0 at critical', () => {
    expect(thresholdScore(5, thresholds)).toBe(10);
    expect(thresholdScore(100, thresholds)).toBe(9);
    expect(thresholdScore(500, thresholds)).toBe(7);
    expect(thresholdScore(2000, thresholds)).toBe(0);
    expect(thresholdScore(1e9, thresholds)).toBe(0);
  });

  it('never raises a threshold score for a worse value', () => {
    let previous = 10;
    for (let v = 0; v <= 2500; v += 0.5) {
      const s = thresholdScore(v, thresholds);
      expect(s).toBeLessThanOrEqual(previous);
      previous = s;
    }
  });

  it('orders budget states: ok >= at_risk > breached, and more overshoot scores lower', () => {
    expect(budgetScore({ state: 'ok', errorBudgetUsed: 0 })).toBe(10);
    expect(budgetScore({ state: 'ok', errorBudgetUsed: 0.7 })).toBeGreaterThanOrEqual(9);
    expect(budgetScore({ state: 'at_risk', errorBudgetUsed: 0.9 })).toBe(9);
    expect(budgetScore({ state: 'breached', errorBudgetUsed: 1.01 })).toBeLessThan(8);
    expect(budgetScore({ state: 'breached', errorBudgetUsed: 4 })).toBeLessThan(
      budgetScore({ state: 'breached', errorBudgetUsed: 2 }),
    );
    expect(budgetScore({ state: 'no_data', errorBudgetUsed: null })).toBe(10);
  });

  it('gives >= 9 when every component is fine and < 8 when any is below 8', () => {
    const rand = random(3);
    for (let trial = 0; trial < 2000; trial++) {
      const n = 1 + Math.floor(rand() * 8);
      const fine = Array.from({ length: n }, (_, i) => ({ name: `c${i}`, score: 9 + rand(), detail: '' }));
      expect(combineScores(fine).score).toBeGreaterThanOrEqual(9);
      const broken = fine.map((c) => ({ ...c }));
      broken[Math.floor(rand() * n)]!.score = rand() * 7.99;
      expect(combineScores(broken).score).toBeLessThan(8);
    }
  });

  it('never raises the overall score when any component gets worse', () => {
    const rand = random(11);
    for (let trial = 0; trial < 5000; trial++) {
      const n = 1 + Math.floor(rand() * 7);
      const before = Array.from({ length: n }, (_, i) => ({ name: `c${i}`, score: rand() * 10, detail: '' }));
      const after = before.map((c) => ({ ...c }));
      const worse = after[Math.floor(rand() * n)]!;
      worse.score = Math.max(0, worse.score - rand() * 5);
      expect(combineScores(after).score).toBeLessThanOrEqual(combineScores(before).score);
    }
  });

  it('says which component cost how much', () => {
    const result = combineScores([
      { name: 'budget:api_latency', score: 6, detail: '' },
      { name: 'runtime:heap', score: 8, detail: '' },
      { name: 'budget:error_rate', score: 10, detail: '' },
    ]);
    expect(result.score).toBe(5.75);
    expect(result.status).toBe('degraded');
    expect(result.components.map((c) => [c.name, c.cost])).toEqual([
      ['budget:api_latency', 4],
      ['runtime:heap', 0.25],
      ['budget:error_rate', 0],
    ]);
  });
});

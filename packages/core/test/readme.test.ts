import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createFakeClock, createKeel } from '../src/index.js';

// What the READMEs say about @keel/core, checked against @keel/core.
const coreReadme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const rootReadme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');

/** The rows of the first table after `heading`: [budget name, target text]. */
function budgetTable(markdown: string, heading: string): [string, string][] {
  const from = markdown.indexOf(heading);
  expect(from, `no "${heading}"`).toBeGreaterThanOrEqual(0);
  const rows: [string, string][] = [];
  for (const line of markdown.slice(from).split('\n').slice(1)) {
    if (rows.length > 0 && !line.startsWith('|')) break;
    const cells = /^\|\s*`([a-z_]+)`\s*\|([^|]+)\|/.exec(line);
    if (cells) rows.push([cells[1]!, cells[2]!.trim()]);
  }
  return rows;
}

const defaults = () => {
  const keel = createKeel({ runtime: false });
  const budgets = keel
    .health()
    .budgets.map((b) => ({ name: b.name, target: b.target, description: b.description }));
  void keel.close();
  return budgets;
};

describe('the READMEs on the default budgets', () => {
  for (const [readme, where, heading] of [
    [rootReadme, 'the repository README', 'budgets are on by default'],
    [coreReadme, "@keel/core's README", 'budgets are on by default'],
  ] as const) {
    it(`${where} lists every default budget, with its target`, () => {
      const rows = budgetTable(readme, heading);
      const budgets = defaults();
      expect(rows.map(([name]) => name)).toEqual(budgets.map((b) => b.name));
      for (const [name, target] of rows) {
        const budget = budgets.find((b) => b.name === name)!;
        expect(target, name).toContain(String(budget.target));
        // p95 / p75 as the budget is defined.
        const percentile = /^(p\d+) /.exec(budget.description)?.[1];
        if (percentile) expect(target, name).toContain(percentile);
      }
      expect(budgets).toHaveLength(8);
      expect(readme).toContain('Eight budgets are on by default');
    });
  }
});

describe("@keel/core's README, Testing your app with Keel", () => {
  it('runs as it stands: ten requests, two evaluations on the fake clock (milliseconds), api_latency ok', () => {
    const section = coreReadme.slice(coreReadme.indexOf('## Testing your app with Keel'));
    const block = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
    expect(block).toBeDefined();
    const body = block!.replace(/^import .*\n/gm, '');
    let asserted = 0;
    const check = (actual: unknown) => ({
      toBe: (wanted: unknown) => {
        asserted++;
        expect(actual).toBe(wanted);
      },
    });
    new Function('createFakeClock', 'createKeel', 'expect', body)(createFakeClock, createKeel, check);
    expect(asserted).toBe(1);
  });
});

import type { BudgetSnapshot } from './budget.js';

/** The message of a `KEEL_BUDGET_BREACHED` error: one line per budget, failures first. */
export function formatBudgetReport(
  all: readonly BudgetSnapshot[],
  failed: readonly BudgetSnapshot[],
): string {
  const line = (b: BudgetSnapshot) => {
    const value = b.value === null ? 'no data' : `${Math.round(b.value * 1000) / 1000} ${b.unit}`;
    const used =
      b.errorBudgetUsed === null ? '' : `, ${Math.round(b.errorBudgetUsed * 100)} % of error budget used`;
    return `  ${b.state.toUpperCase().padEnd(8)} ${b.name}: ${value} (target ${b.description}; ${b.samples} samples${used})`;
  };
  const rest = all.filter((b) => !failed.includes(b));
  return [
    `${failed.length} of ${all.length} performance budget(s) failed:`,
    ...failed.map(line),
    ...(rest.length ? ['Others:', ...rest.map(line)] : []),
  ].join('\n');
}

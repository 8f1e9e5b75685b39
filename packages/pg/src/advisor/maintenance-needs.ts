// Which tables need VACUUM or ANALYZE, by the thresholds: the advisor's
// findings and the maintenance runner's work.

import { ADVISOR_DEFAULTS, type AdvisorThresholds, type Finding } from './advisor-options.js';
import { TABLES_SQL } from './queries.js';
import { qualified, round } from './sql-text.js';

export interface TableRow {
  schema: string;
  table: string;
  live: number;
  dead: number;
  modified: number;
  vacuumed: Date | null;
  analyzed: Date | null;
}

/** What `ANALYZE`/`VACUUM` a table needs by the thresholds; shared with the maintenance runner. */
export function maintenanceNeeds(
  row: Pick<TableRow, 'live' | 'dead' | 'modified' | 'analyzed'>,
  thresholds: AdvisorThresholds = {},
): { vacuum: boolean; analyze: boolean; deadRatio: number } {
  const t = { ...ADVISOR_DEFAULTS, ...thresholds };
  const deadRatio = row.live + row.dead > 0 ? row.dead / (row.live + row.dead) : 0;
  const vacuum = row.dead >= t.minDeadTuples && deadRatio >= t.deadTupleRatio;
  const analyze =
    row.analyzed === null
      ? row.live + row.modified >= t.minAnalyzeRows
      : row.modified >= t.minAnalyzeRows && row.modified >= t.modifiedRatio * Math.max(row.live, 1);
  return { vacuum, analyze, deadRatio };
}

export function maintenanceFindings(tables: TableRow[], t: Required<AdvisorThresholds>): Finding[] {
  const findings: Finding[] = [];
  for (const row of tables) {
    const { vacuum, analyze, deadRatio } = maintenanceNeeds(row, t);
    const target = qualified(row.schema, row.table);
    const object = `${row.schema}.${row.table}`;
    if (vacuum) {
      findings.push({
        kind: 'needs-vacuum',
        severity: 'warning',
        object,
        message: `${object} has ${row.dead} dead tuples (${Math.round(deadRatio * 100)} % of its tuples)${row.vacuumed ? `; last vacuumed ${row.vacuumed.toISOString()}` : '; never vacuumed'}.`,
        fix: `VACUUM (ANALYZE) ${target};`,
        evidence: { dead: row.dead, live: row.live, deadRatio: round(deadRatio) },
      });
    } else if (analyze) {
      findings.push({
        kind: 'needs-analyze',
        severity: 'warning',
        object,
        message: row.analyzed
          ? `${object} changed ${row.modified} rows since its last analyze (${row.analyzed.toISOString()}); the planner works from stale statistics.`
          : `${object} (${row.live} rows) has never been analyzed; the planner is guessing its statistics.`,
        fix: `ANALYZE ${target};`,
        evidence: { live: row.live, modified: row.modified, analyzed: row.analyzed?.toISOString() ?? null },
      });
    }
  }
  return findings;
}

export type { TableRow as MaintenanceTableRow };
export { TABLES_SQL as MAINTENANCE_TABLES_SQL };

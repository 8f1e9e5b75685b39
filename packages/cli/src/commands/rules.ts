import { basename } from 'node:path';
import type { Command } from '../cli/command.js';
import { UsageError } from '../cli/usage-error.js';
import { promDuration } from '../rules/duration.js';
import {
  generatedHeader,
  prometheusRuleObject,
  prometheusRules,
  rulesFile,
  toYaml,
} from '../rules/prometheus-rules.js';
import { ruleTests } from '../rules/rule-tests.js';
import { recordedWindows } from '../rules/windows.js';

export const RULES_FILE = 'keel-rules.yaml';
/** One test file per alert severity: \`promtool test rules\` on both. */
export function ruleTestsFile(severity: string): string {
  return `keel-rules.${severity}.test.yaml`;
}
export const PROMETHEUS_RULE_FILE = 'keel-prometheusrule.yaml';

export const rules: Command = {
  name: 'rules',
  summary: 'Prometheus recording rules, burn-rate alerts and their promtool tests',
  synopsis: '[--format prometheus|prometheus-operator] [common options]',
  defaultOut: 'deploy/prometheus',
  options: { format: { type: 'string' } },
  help: `
For every budget of the config: the bad-event ratio recorded per window
(each alert window and the SLO period) at two levels, per instance and for
the fleet (\`instance:keel_sli_error:ratio_rate5m\`, \`job:keel_sli_error:ratio_rate5m\`);
metadata (objective, error budget, error budget remaining over the period);
and multi-window multi-burn-rate alerts: page on Keel's own burnRateWindows
(5m/1h at 14.4x, 30m/6h at 6x by default), ticket on prometheus.ticketWindows
(2h/1d at 3x, 6h/3d at 1x). Latency budgets read the exact le bucket Keel
exports for the target; availability counts Keel's own 503s as failures.

  --format <f>   prometheus (default): ${RULES_FILE}, and its tests for
                   \`promtool test rules\`: ${ruleTestsFile('page')} and
                   ${ruleTestsFile('ticket')};
                 prometheus-operator: ${PROMETHEUS_RULE_FILE}, a PrometheusRule

--json result: { budgets: string[], unsupported: [{ budget, reason }],
  windows: string[], recordingRules: number, alerts: number, testGroups: number }`,
  async run(context) {
    const format = (context.values.format as string | undefined) ?? 'prometheus';
    if (format !== 'prometheus' && format !== 'prometheus-operator')
      throw new UsageError(`--format must be prometheus or prometheus-operator (got ${format})`);
    const { resolved, path } = await context.config();
    const generated = prometheusRules(resolved);
    for (const warning of generated.warnings) context.warn(warning);
    const header = generatedHeader(
      `rules${format === 'prometheus' ? '' : ` --format ${format}`}`,
      basename(path),
    );
    const files =
      format === 'prometheus'
        ? [{ path: RULES_FILE, content: rulesFile(generated, header) }]
        : [
            {
              path: PROMETHEUS_RULE_FILE,
              content: header + toYaml(prometheusRuleObject(generated, resolved)),
            },
          ];
    let testGroups = 0;
    if (format === 'prometheus') {
      const tests = ruleTests(generated, resolved, RULES_FILE);
      for (const reason of tests.skipped) context.warn(`rule test left out: ${reason}`);
      for (const file of tests.files) {
        testGroups += file.groups;
        files.push({ path: ruleTestsFile(file.severity), content: header + toYaml(file.content) });
      }
    }
    const all = generated.groups.flatMap((g) => g.rules);
    const alerts = all.filter((r) => 'alert' in r).length;
    const data = {
      budgets: generated.slis.map((s) => s.budget.name),
      unsupported: generated.unsupported,
      windows: recordedWindows(resolved).map(promDuration),
      recordingRules: all.length - alerts,
      alerts,
      testGroups,
    };
    return {
      files,
      data,
      text:
        `${data.budgets.length} budgets, windows ${data.windows.join(' ')}: ${data.recordingRules} recording rules, ` +
        `${alerts} alerts${format === 'prometheus' ? `, ${testGroups} promtool test groups` : ''}`,
      incomplete: generated.unsupported.map((u) => `no rules for budget ${u.budget}: ${u.reason}`),
    };
  },
};

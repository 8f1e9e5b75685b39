export {
  AUDIT_SCHEMA,
  type AuditCategory,
  type AuditedPage,
  type AuditedRoute,
  type AuditFinding,
  type AuditPart,
  type AuditResult,
  type AuditStatus,
  type AuditUnit,
} from './audit/finding.js';
export type {
  Command,
  CommandContext,
  CommandResult,
  GeneratedFile,
  LoadedConfig,
  OptionSpecs,
} from './cli/command.js';
export { ExitCode } from './cli/exit-codes.js';
export type { FileReport, FileStatus } from './cli/files.js';
export { JSON_SCHEMA, type JsonOutput } from './cli/json-output.js';
export { CONFIG_FILE_NAMES, findConfigFile, loadConfig } from './cli/load-config.js';
export { type CliIo, commandHelp, runCli } from './cli/run.js';
export { UsageError } from './cli/usage-error.js';
export { COMMANDS } from './commands/index.js';
export { grafanaDashboard } from './dashboard/grafana.js';
export { type KubernetesObjects, kubernetesObjects } from './kubernetes/objects.js';
export { type ProbeTimings, probeTimings } from './kubernetes/probes.js';
export { toOpenSlo } from './openslo/export.js';
export { fromOpenSlo, type OpenSloImport } from './openslo/import.js';
export {
  type PrometheusRules,
  prometheusRuleObject,
  prometheusRules,
} from './rules/prometheus-rules.js';
export { type RuleTests, ruleTests } from './rules/rule-tests.js';
export { run } from './run.js';

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
export {
  type PrometheusRules,
  prometheusRuleObject,
  prometheusRules,
} from './rules/prometheus-rules.js';
export { type RuleTests, ruleTests } from './rules/rule-tests.js';

import { type CliIo, runCli } from './cli/run.js';
import { COMMANDS } from './commands/index.js';

/** Runs a `keel` command line in process (what the `keel` executable does), returning its exit code. */
export function run(argv: readonly string[], io?: Partial<CliIo>): Promise<number> {
  return runCli(argv, COMMANDS, {
    stdout: io?.stdout ?? ((text) => process.stdout.write(text)),
    stderr: io?.stderr ?? ((text) => process.stderr.write(text)),
    cwd: io?.cwd ?? process.cwd(),
  });
}

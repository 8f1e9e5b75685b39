import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Command, CommandContext, CommandResult, LoadedConfig, OptionSpecs } from './command.js';
import { ExitCode } from './exit-codes.js';
import { type FileReport, writeOrCheck } from './files.js';
import { JSON_SCHEMA, type JsonOutput } from './json-output.js';
import { findConfigFile, isKeelError, loadConfig } from './load-config.js';
import { UsageError } from './usage-error.js';

/** Where a run writes and reads; tests pass their own. */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  readonly cwd: string;
}

/** Options every subcommand takes, handled here so they mean the same everywhere. */
const COMMON_OPTIONS: OptionSpecs = {
  config: { type: 'string' },
  out: { type: 'string' },
  json: { type: 'boolean' },
  check: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

const COMMON_HELP = `common options:
  --config <file>   the config (default: keel.config.{ts,mts,mjs,js,json,yaml,yml} here)
%FILES%  --json            print one JSON object (schema keel-cli/1) instead of text
  -h, --help        this text

exit codes: 0 ok, 1 a check failed, 2 usage or configuration error, 3 incomplete`;

const FILE_HELP = `  --out <dir>       where generated files go (default: %OUT%)
  --check           write nothing; exit 1 when a generated file on disk is missing or stale
`;

function usage(commands: readonly Command[]): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return `usage: keel <command> [options]

Budgets as code: the budgets of keel.config.ts, the file your app passes to
createKeel(), turned into what runs around the app.

commands:
${commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Run \`keel <command> --help\` for a command's options.`;
}

export function commandHelp(command: Command): string {
  // A command that writes no files refuses --out and --check, so its help does not offer them.
  const files = command.defaultOut === undefined ? '' : FILE_HELP.replace('%OUT%', command.defaultOut);
  const common = COMMON_HELP.replace('%FILES%', files);
  // Only blank lines are trimmed at the start: a help that opens with an indented line keeps its indent.
  const help = command.help.replace(/^\s*\n/, '').trimEnd();
  return `usage: keel ${command.name} ${command.synopsis}\n\n${help}\n\n${common}\n`;
}

/**
 * Runs one `keel` command line and returns its exit code. Everything shared
 * by the subcommands lives here: parsing, `--help`, loading the config,
 * writing or checking files, `--json`, error printing and exit codes.
 */
export async function runCli(
  argv: readonly string[],
  commands: readonly Command[],
  io: CliIo,
): Promise<ExitCode> {
  const [name, ...rest] = argv;
  const topic =
    name === 'help' && rest[0] !== undefined ? commands.find((c) => c.name === rest[0]) : undefined;
  if (name === 'help' && rest[0] !== undefined && topic === undefined) {
    // `keel help frobnicate` is the same mistake as `keel frobnicate`: exit 2, not the usage and 0.
    io.stderr(`error: unknown command "${rest[0]}"\n\n${usage(commands)}\n`);
    return ExitCode.Usage;
  }
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    if (topic) io.stdout(commandHelp(topic));
    else (name === undefined ? io.stderr : io.stdout)(`${usage(commands)}\n`);
    return name === undefined ? ExitCode.Usage : ExitCode.Ok;
  }
  const command = commands.find((c) => c.name === name);
  const json = rest.includes('--json');
  const warnings: string[] = [];
  let configPath: string | null = null;
  const finish = (output: Omit<JsonOutput, 'schema' | 'command' | 'config' | 'warnings'>) => {
    if (json) {
      const envelope: JsonOutput = {
        schema: JSON_SCHEMA,
        command: name,
        config: configPath,
        warnings,
        ...output,
      };
      io.stdout(`${JSON.stringify(envelope, null, 2)}\n`);
    }
    return output.exitCode as ExitCode;
  };
  const fail = (exitCode: ExitCode, code: string, message: string, hint?: string) => {
    io.stderr(`error: ${code === 'KEEL_USAGE' ? '' : `${code}: `}${message}\n${hint ? `${hint}\n` : ''}`);
    return finish({
      exitCode,
      files: [],
      failed: [],
      incomplete: [],
      error: { code, message },
      result: null,
    });
  };

  if (!command) {
    return fail(ExitCode.Usage, 'KEEL_USAGE', `unknown command "${name}"`, `\n${usage(commands)}`);
  }
  try {
    const { values, positionals } = parseArgs({
      args: [...rest],
      options: { ...COMMON_OPTIONS, ...command.options },
      allowPositionals: true,
      strict: true,
    });
    if (values.help) {
      io.stdout(commandHelp(command));
      return ExitCode.Ok;
    }
    if (positionals.length > (command.maxPositionals ?? 0))
      throw new UsageError(
        `unexpected argument: ${positionals.slice(command.maxPositionals ?? 0).join(' ')}`,
      );
    if (command.defaultOut === undefined && (values.check || values.out !== undefined))
      throw new UsageError(`keel ${command.name} writes no files: --out and --check do not apply`);

    let loaded: Promise<LoadedConfig> | undefined;
    const context: CommandContext = {
      values,
      positionals,
      cwd: io.cwd,
      config: () => {
        loaded ??= (async () => {
          const path = findConfigFile(io.cwd, values.config as string | undefined);
          configPath = path;
          return loadConfig(path);
        })();
        return loaded;
      },
      progress: (message) => io.stderr(`${message}\n`),
      warn: (message) => {
        warnings.push(message);
        io.stderr(`warning: ${message}\n`);
      },
    };

    const result: CommandResult = await command.run(context);
    let files: FileReport[] = [];
    if (result.files && command.defaultOut !== undefined) {
      const outDir = resolve(io.cwd, (values.out as string | undefined) ?? command.defaultOut);
      files = await writeOrCheck(result.files, outDir, io.cwd, values.check === true);
    }
    const stale = files.filter((f) => f.status === 'stale' || f.status === 'missing');
    const failed = [...(result.failed ?? []), ...stale.map((f) => `${f.path} is ${f.status}`)];
    const incomplete = [...(result.incomplete ?? [])];
    const exitCode =
      failed.length > 0 ? ExitCode.CheckFailed : incomplete.length > 0 ? ExitCode.Incomplete : ExitCode.Ok;
    if (!json) {
      const width = Math.max(0, ...files.map((f) => f.status.length));
      const lines = files.map((f) => `${f.status.padEnd(width)}  ${f.path}`);
      if (result.text) lines.push(result.text.trimEnd());
      if (lines.length) io.stdout(`${lines.join('\n')}\n`);
    }
    if (stale.length)
      io.stderr(
        `keel ${command.name} --check: ${stale.length} file(s) out of date; run \`keel ${command.name}\` without --check to update them\n`,
      );
    for (const part of incomplete) io.stderr(`incomplete: ${part}\n`);
    return finish({ exitCode, files, failed, incomplete, error: null, result: result.data ?? null });
  } catch (error) {
    if (isKeelError(error)) {
      return fail(ExitCode.Usage, error.code, error.message, configPath ? `  in ${configPath}` : undefined);
    }
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      return fail(
        ExitCode.Usage,
        'KEEL_USAGE',
        (error as Error).message,
        `run \`keel ${name} --help\` for usage`,
      );
    }
    return fail(ExitCode.Incomplete, 'KEEL_INTERNAL', (error as Error).stack ?? String(error));
  }
}

import type { ParseArgsConfig } from 'node:util';
import type { KeelFileConfig, KeelFileOptions } from '@keel/core';

export type OptionSpecs = NonNullable<ParseArgsConfig['options']>;

/** A generated file, its path relative to `--out`. */
export interface GeneratedFile {
  readonly path: string;
  readonly content: string;
}

/** The config a command runs on: the file's own options and their resolved form. */
export interface LoadedConfig {
  /** Absolute path of the file read. */
  readonly path: string;
  readonly options: KeelFileOptions;
  readonly resolved: KeelFileConfig;
}

export interface CommandContext {
  /** Parsed options: the common ones (`config`, `out`, `json`, `check`) and the command's own. */
  readonly values: Readonly<Record<string, string | boolean | (string | boolean)[] | undefined>>;
  readonly positionals: readonly string[];
  readonly cwd: string;
  /** Loads and validates the config (`--config` or `keel.config.*` in `cwd`); a bad one ends the run with exit 2. */
  config(): Promise<LoadedConfig>;
  /** A progress line on stderr (stdout carries only the result). */
  progress(message: string): void;
  /** A warning on stderr, also listed in `--json` output. */
  warn(message: string): void;
}

export interface CommandResult {
  /** Files to write under `--out` (or compare with `--check`). */
  readonly files?: readonly GeneratedFile[];
  /** What stdout shows without `--json`, after the file lines. */
  readonly text?: string;
  /** The command's part of the `--json` output (`result`). */
  readonly data?: unknown;
  /** Checks that failed: exit 1. */
  readonly failed?: readonly string[];
  /** Parts that could not run: exit 3 (unless a check failed too). */
  readonly incomplete?: readonly string[];
}

/**
 * One `keel` subcommand: one file under `src/commands/`, listed once in
 * `src/commands/index.ts`. The runner gives every command the same
 * `--help`, `--config`, `--out`, `--json`, `--check`, error printing and exit codes.
 */
export interface Command {
  readonly name: string;
  /** One line, for `keel --help`. */
  readonly summary: string;
  /** Argument synopsis after `keel <name>`, e.g. `[--format <f>]`. */
  readonly synopsis: string;
  /** The rest of `keel <name> --help`: what it does, its own options, its output. */
  readonly help: string;
  /** The command's own options (node:util parseArgs specs). */
  readonly options: OptionSpecs;
  /** Positional arguments accepted, at most. @default 0 */
  readonly maxPositionals?: number;
  /** Where files go without `--out`, relative to the current directory; omit when it writes none. */
  readonly defaultOut?: string;
  run(context: CommandContext): Promise<CommandResult>;
}

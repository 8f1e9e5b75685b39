import type { FileReport } from './files.js';

/** The version of the `--json` output below; bumped on any change that could break a reader. */
export const JSON_SCHEMA = 'keel-cli/1';

/**
 * What every subcommand prints with `--json`: one object on stdout, the same
 * envelope for every command, its own findings under `result`.
 */
export interface JsonOutput {
  /** Always `keel-cli/1` for this shape. */
  readonly schema: typeof JSON_SCHEMA;
  readonly command: string;
  /** The process exit code: 0 ok, 1 a check failed, 2 usage or configuration error, 3 incomplete. */
  readonly exitCode: number;
  /** The config file read, when the command read one. */
  readonly config: string | null;
  /** Generated files and what happened to each. */
  readonly files: readonly FileReport[];
  /** Checks that failed (exit 1). */
  readonly failed: readonly string[];
  /** Parts that could not run (exit 3). */
  readonly incomplete: readonly string[];
  readonly warnings: readonly string[];
  /** Set when the command could not run (exit 2): `code` is a `KeelError` code or `KEEL_USAGE`. */
  readonly error: { readonly code: string; readonly message: string } | null;
  /** The command's own result; its shape is documented with the command. */
  readonly result: unknown;
}

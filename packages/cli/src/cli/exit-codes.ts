/** Every `keel` subcommand exits with one of these. */
export const ExitCode = {
  /** Done; with `--check`, everything on disk is up to date. */
  Ok: 0,
  /** A check failed: stale generated files, a failing check, a broken budget. */
  CheckFailed: 1,
  /** Bad usage or configuration (a `KeelError` from validation): nothing was done. */
  Usage: 2,
  /** Incomplete: a part could not run (the rest was done and is reported). */
  Incomplete: 3,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

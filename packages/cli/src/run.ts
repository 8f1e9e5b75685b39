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

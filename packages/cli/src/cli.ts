import { runCli } from './cli/run.js';
import { COMMANDS } from './commands/index.js';

// The `keel` executable (bin/keel.js imports the built copy of this file).
runCli(process.argv.slice(2), COMMANDS, {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  cwd: process.cwd(),
}).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error);
    process.exitCode = 3;
  },
);

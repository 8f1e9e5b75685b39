import { run } from './run.js';

// The `keel` executable (bin/keel.js imports the built copy of this file).
run(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error);
    process.exitCode = 3;
  },
);

import { parseArgs } from 'node:util';
import { advise } from './advisor/advisor.js';
import { exitCode, type FailOn, formatReport } from './advisor/report.js';

const USAGE = `usage: keel-pg advise [<postgres-url>] [options]

Checks a database: slow statements (pg_stat_statements), missing indexes
(confirmed with hypopg when installed), unused / duplicate / redundant /
invalid indexes, tables needing VACUUM or ANALYZE, connections in use.
Reads only; suggested statements are printed, never run.

  <postgres-url>        default: $DATABASE_URL (else the PG* variables)
  --json                print the report as JSON (for CI)
  --fail-on <level>     exit 1 when a finding is at least this severe:
                        critical | warning | info | never   (default: warning)
  --query <sql>         also check this statement for missing indexes (repeatable)
  -h, --help            this text

exit codes: 0 no finding at --fail-on or above, 1 findings, 2 could not check`;

async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    console.error(`keel-pg: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const [command, url, ...rest] = positionals;
  if (command !== 'advise' || rest.length > 0) {
    console.error(
      command
        ? `keel-pg: unknown command or extra argument: ${[command, url, ...rest].join(' ')}\n\n${USAGE}`
        : USAGE,
    );
    return 2;
  }
  const failOn = (values['fail-on'] ?? 'warning') as FailOn;
  if (!['critical', 'warning', 'info', 'never'].includes(failOn)) {
    console.error(`keel-pg: --fail-on must be critical, warning, info or never (got ${failOn})`);
    return 2;
  }
  const target = url ?? process.env.DATABASE_URL ?? {};
  try {
    const report = await advise(target, { queries: values.query ?? [] });
    process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
    return exitCode(report, failOn);
  } catch (error) {
    console.error(`keel-pg: ${(error as Error).message}`);
    return 2;
  }
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      json: { type: 'boolean' },
      'fail-on': { type: 'string' },
      query: { type: 'string', multiple: true },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error);
    process.exitCode = 2;
  },
);

import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { resolveConfigFile } from '@keel/core';
import { parseAllDocuments } from 'yaml';
import type { Command } from '../cli/command.js';
import { UsageError } from '../cli/usage-error.js';
import { toOpenSlo } from '../openslo/export.js';
import { fromOpenSlo } from '../openslo/import.js';
import { generatedHeader, toYaml } from '../rules/prometheus-rules.js';

export const slo: Command = {
  name: 'slo',
  summary: 'OpenSLO v1: export the budgets as SLOs, or import SLOs as budgets',
  synopsis: 'export [common options] | import <file> [--json]',
  maxPositionals: 2,
  defaultOut: 'deploy/openslo',
  options: {},
  help: `
  keel slo export         writes openslo.yaml: one \`kind: SLO\` (openslo/v1) per budget,
                          its SLI a ratio of Keel's own counters, with keel.dev/*
                          annotations so an import brings the budget back unchanged
  keel slo import <file>  reads OpenSLO v1 SLOs (ratio and threshold metrics over
                          Keel's metrics) and prints a keel.config.ts with them as
                          budgets; SLOs Keel cannot measure are listed (exit 3)

--json result: export { slos: string[] };
  import { config: object, skipped: [{ name, reason }] }`,
  async run(context) {
    const [action, file] = context.positionals;
    if (action === 'export') {
      if (file) throw new UsageError('keel slo export takes no file');
      const { resolved, path } = await context.config();
      const docs = toOpenSlo(resolved);
      const header = generatedHeader('slo export', path.split('/').pop()!);
      return {
        files: [{ path: 'openslo.yaml', content: header + docs.map((d) => toYaml(d)).join('---\n') }],
        data: { slos: docs.map((d) => (d.metadata as { name: string }).name) },
        text: `${docs.length} SLOs`,
      };
    }
    if (action === 'import') {
      if (!file) throw new UsageError('keel slo import needs the OpenSLO file to read');
      if (context.values.check || context.values.out !== undefined)
        throw new UsageError('keel slo import writes no files: --out and --check do not apply');
      const text = await readFile(resolve(context.cwd, file), 'utf8').catch((error: Error) => {
        throw new UsageError(`${file}: ${error.message}`);
      });
      const documents = parseAllDocuments(text);
      const broken = documents.find((d) => 'errors' in d && d.errors.length > 0);
      if (broken && 'errors' in broken)
        throw new UsageError(`${file}: ${broken.errors[0]!.message.split('\n')[0]}`);
      const defaults = resolveConfigFile({});
      const imported = fromOpenSlo(
        documents.map((d) => d.toJS()),
        defaults.keel,
      );
      for (const warning of imported.warnings) context.warn(warning);
      // The result must be a config Keel accepts: a bad objective fails here, naming the budget.
      resolveConfigFile(imported.options);
      return {
        data: { config: imported.options, skipped: imported.skipped },
        text: `import { defineConfig } from '@keel/core';\n\nexport default defineConfig(${asTypeScript(imported.options)});`,
        incomplete: imported.skipped.map((s) => `SLO ${s.name} not imported: ${s.reason}`),
      };
    }
    throw new UsageError(
      action ? `unknown action "${action}": use export or import` : 'say export or import',
    );
  },
};

/** JSON with bare keys where a key is an identifier: a config file as a person would write it. */
function asTypeScript(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(/^(\s*)"([A-Za-z_$][\w$]*)":/gm, '$1$2:');
}

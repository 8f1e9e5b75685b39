import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMANDS, JSON_SCHEMA, runCli } from '../src/index.js';
import { keel, project } from './helpers.js';

describe('the keel command: conventions every subcommand shares', () => {
  it('lists every subcommand; without one it prints the usage on stderr and exits 2', async () => {
    const help = await keel(['--help'], project({}));
    expect(help.code).toBe(0);
    for (const command of COMMANDS) expect(help.stdout).toContain(`  ${command.name}`);
    expect((await keel(['help', 'rules'], project({}))).stdout).toMatch(/^usage: keel rules /);
    const unknown = await keel(['help', 'frobnicate'], project({}));
    expect(unknown).toMatchObject({ code: 2, stdout: '' });
    expect(unknown.stderr).toMatch(/^error: unknown command "frobnicate"/);
    const bare = await keel([], project({}));
    expect(bare.code).toBe(2);
    expect(bare.stdout).toBe('');
    expect(bare.stderr).toContain('usage: keel <command>');
  });

  it.each(COMMANDS.map((c) => c.name))(
    'keel %s --help documents its options and the exit codes',
    async (name) => {
      const { code, stdout } = await keel([name, '--help'], project({}));
      expect(code).toBe(0);
      expect(stdout).toMatch(new RegExp(`^usage: keel ${name} `));
      expect(stdout).toContain('--config <file>');
      expect(stdout).toContain('--json');
      expect(stdout).toContain(
        'exit codes: 0 ok, 1 a check failed, 2 usage or configuration error, 3 incomplete',
      );
    },
  );

  it('reports a failure that is no usage or config error as KEEL_INTERNAL, exit 3, in the same envelope', async () => {
    const broken = {
      name: 'broken',
      summary: 's',
      synopsis: '',
      help: 'h',
      options: {},
      run: async () => {
        throw new Error('a bug');
      },
    };
    let stdout = '';
    let stderr = '';
    const code = await runCli(['broken', '--json'], [broken], {
      stdout: (t) => (stdout += t),
      stderr: (t) => (stderr += t),
      cwd: project({}),
    });
    expect(code).toBe(3);
    expect(stderr).toMatch(/^error: KEEL_INTERNAL: Error: a bug/);
    expect(JSON.parse(stdout)).toMatchObject({
      schema: JSON_SCHEMA,
      exitCode: 3,
      error: { code: 'KEEL_INTERNAL' },
      result: null,
    });
  });

  it('--help offers --out and --check only to commands that write files, which alone accept them', async () => {
    for (const command of COMMANDS) {
      const { stdout } = await keel([command.name, '--help'], project({}));
      const writes = command.defaultOut !== undefined;
      expect(stdout.includes('--out <dir>'), command.name).toBe(writes);
      expect(stdout.includes('--check'), command.name).toBe(writes);
      if (!writes) expect((await keel([command.name, '--check'], project({}))).code).toBe(2);
    }
    // A help that opens with an indented line keeps its indentation, aligned with the lines below.
    expect((await keel(['slo', '--help'], project({}))).stdout).toContain('\n\n  keel slo export ');
  });

  it('exits 2 on an unknown command, an unknown option or a missing config', async () => {
    const dir = project({});
    expect((await keel(['frobnicate'], dir)).code).toBe(2);
    const option = await keel(['rules', '--frobnicate'], dir);
    expect(option.code).toBe(2);
    expect(option.stderr).toMatch(/^error: .*frobnicate/);
    const missing = await keel(['rules'], dir);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^error: no config file/);
    const two = await keel(
      ['rules'],
      project({ 'keel.config.json': {}, 'keel.config.yaml': 'service: x\n' }),
    );
    expect(two.code).toBe(2);
    expect(two.stderr).toContain('more than one config file');
  });

  it.each([
    ['an objective of 100 %', { budgets: { availability: { target: 100 } } }, 'budgets.availability.target'],
    ['an objective of 0', { budgets: { api_latency: { percentile: 0 } } }, 'budgets.api_latency.percentile'],
    ['an unknown key', { budgets: { api_latency: { treshold: 300 } } }, 'budgets.api_latency.treshold'],
    ['a window off the interval', { window: { interval: 10_000, length: 25_000 } }, 'window.length'],
  ])('prints a bad config (%s) as error: <code>: <message> and exits 2', async (_, config, key) => {
    const { code, stdout, stderr } = await keel(['rules'], project({ 'keel.config.json': config }));
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^error: KEEL_INVALID_OPTION: /);
    expect(stderr).toContain(`\`${key}\``);
    expect(stderr).toMatch(/\n {2}in \/.*keel\.config\.json\n$/);
  });

  it.each([
    ['optimise', ['--window', 'soon']],
    ['loadtest', ['--duration', 'soon']],
    ['audit', ['--instances', 'many']],
  ])(
    'keel %s checks its arguments before asking the app: a bad one exits 2 with the app down',
    async (name, args) => {
      const { code, stdout, stderr } = await keel(
        [name, 'http://127.0.0.1:9', ...args],
        project({ 'keel.config.json': {} }),
      );
      expect({ code, stdout }).toEqual({ code: 2, stdout: '' });
      expect(stderr).toMatch(new RegExp(`^error: --\\w+.*\\nrun \`keel ${name} --help\` for usage\\n$`));
    },
  );

  it('names a budget defined twice in YAML or JSON (which JSON.parse would silently merge)', async () => {
    for (const [file, text] of [
      ['keel.config.yaml', 'budgets:\n  api_latency: { target: 300 }\n  api_latency: { target: 400 }\n'],
      ['keel.config.json', '{"budgets": {"api_latency": {"target": 300}, "api_latency": {"target": 400}}}'],
    ] as const) {
      const { code, stderr } = await keel(['rules'], project({ [file]: text }));
      expect(code).toBe(2);
      expect(stderr).toMatch(/^error: KEEL_INVALID_OPTION: .*`budgets\.api_latency` is defined twice/);
    }
  });

  it('loads keel.config.ts (typed with defineConfig) as the app would', async () => {
    const dir = project({
      'keel.config.ts': `import { defineConfig } from '@keel/core';\nconst target: number = 250;\nexport default defineConfig({ service: 'typed', budgets: { api_latency: { target } } });\n`,
    });
    const { code, stdout } = await keel(['rules', '--json'], dir);
    expect(code).toBe(0);
    const out = JSON.parse(stdout);
    expect(out.config).toBe(join(dir, 'keel.config.ts'));
    expect(readFileSync(join(dir, 'deploy/prometheus/keel-rules.yaml'), 'utf8')).toContain('job="typed"');
    expect(readFileSync(join(dir, 'deploy/prometheus/keel-rules.yaml'), 'utf8')).toContain('le="0.25"');
  });

  it('--json prints one object of the versioned schema on stdout, warnings and progress on stderr', async () => {
    const { code, stdout, stderr } = await keel(['rules', '--json'], project({ 'keel.config.json': {} }));
    expect(code).toBe(0);
    const out = JSON.parse(stdout);
    expect(out).toMatchObject({ schema: JSON_SCHEMA, command: 'rules', exitCode: 0, error: null });
    expect(out.files.map((f: { status: string }) => f.status)).toEqual(['written', 'written', 'written']);
    expect(out.warnings.length).toBeGreaterThan(0);
    expect(stderr).toContain('warning: page_load');
    const failed = await keel(['rules', '--json'], project({ 'keel.config.json': { nope: 1 } }));
    expect(failed.code).toBe(2);
    expect(JSON.parse(failed.stdout)).toMatchObject({ exitCode: 2, error: { code: 'KEEL_INVALID_OPTION' } });
  });

  it('--check exits 1 when a generated file is stale or missing, 0 when all are up to date, and writes nothing', async () => {
    const dir = project({ 'keel.config.json': { service: 'shop' } });
    const missing = await keel(['rules', '--check'], dir);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toMatch(/^missing +deploy\/prometheus\/keel-rules\.yaml$/m);
    expect(existsSync(join(dir, 'deploy'))).toBe(false);
    expect((await keel(['rules'], dir)).code).toBe(0);
    expect((await keel(['rules', '--check'], dir)).code).toBe(0);
    // The config changes and the files on disk no longer match it.
    writeFileSync(
      join(dir, 'keel.config.json'),
      JSON.stringify({ service: 'shop', budgets: { api_latency: { target: 300 } } }),
    );
    const stale = await keel(['rules', '--check'], dir);
    expect(stale.code).toBe(1);
    expect(stale.stdout).toMatch(/^stale +deploy\/prometheus\/keel-rules\.yaml$/m);
    expect(stale.stderr).toContain('out of date');
    const again = await keel(['rules'], dir);
    expect(again.stdout).toMatch(/^written +deploy\/prometheus\/keel-rules\.yaml$/m);
    expect((await keel(['rules', '--check'], dir)).code).toBe(0);
  });

  it('exits 3, incomplete, when part of the work cannot be done, after doing the rest', async () => {
    const dir = project({
      'keel.config.json': {
        budgets: { db_errors: { kind: 'error_rate', signal: 'db.client.operation.duration', target: 1 } },
      },
    });
    const { code, stdout, stderr } = await keel(['rules', '--json'], dir);
    expect(code).toBe(3);
    const out = JSON.parse(stdout);
    expect(out.incomplete).toEqual([expect.stringMatching(/^no rules for budget db_errors: /)]);
    expect(out.result.budgets).toContain('api_latency');
    expect(stderr).toContain('incomplete: no rules for budget db_errors');
  });
});

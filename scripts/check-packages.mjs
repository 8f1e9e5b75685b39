#!/usr/bin/env node
// Checks what npm users would install: packs every public package in packages/*
// exactly as `pnpm publish` would (workspace: ranges rewritten, `files` applied),
// lints the tarball with publint and attw ("are the types wrong"), checks the
// published shape (repository, homepage, bugs, license, keywords; a README whose
// links work on npm), then installs all the tarballs into a plain npm project on
// this Node — no EBADENGINE warning allowed — and type-checks an ESM and a CommonJS
// consumer with `tsc --strict` (decision 0025).
// Run after `pnpm build`: the tarballs contain the built dist/.
//
//   node scripts/check-packages.mjs
//
// Prints one line per package and for the consumers, and exits 1 if any check failed.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The one repository URL every package and README points at (decision 0025). */
const REPOSITORY = 'https://github.com/keel-dev/keel';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = (name) => join(root, 'node_modules', '.bin', name);

/** Runs a command without a shell (arguments are never parsed), output shown as it comes. */
function run(command, args, cwd) {
  const result = spawnSync(command, args, { cwd, stdio: 'inherit', shell: false });
  if (result.error) {
    console.error(`check-packages: cannot run ${command}: ${result.error.message}`);
    return false;
  }
  return result.status === 0;
}

function publicPackages() {
  const dir = join(root, 'packages');
  const found = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const manifestPath = join(dir, entry.name, 'package.json');
    if (!existsSync(manifestPath)) continue;
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
    if (manifest.private === true) continue;
    found.push({ dir: join(dir, entry.name), name: manifest.name ?? entry.name, manifest });
  }
  return found.sort((a, b) => a.name.localeCompare(b.name));
}

/** Whether package.json points TypeScript at declarations, at the top level or in `exports`. */
function declaresTypes(manifest) {
  const inExports = (node) =>
    node !== null &&
    typeof node === 'object' &&
    Object.entries(node).some(([key, value]) => key === 'types' || inExports(value));
  return (
    typeof manifest.types === 'string' || typeof manifest.typings === 'string' || inExports(manifest.exports)
  );
}

/** What npm shows about the package besides its code; every public package must say it. */
function metadataProblems(pkg) {
  const m = pkg.manifest;
  const directory = `packages/${pkg.dir.split(/[\\/]/).pop()}`;
  const problems = [];
  if (typeof m.license !== 'string' || m.license === '') problems.push('no license');
  if (!Array.isArray(m.keywords) || m.keywords.length === 0) problems.push('no keywords');
  if (
    m.repository?.type !== 'git' ||
    m.repository?.url !== `git+${REPOSITORY}.git` ||
    m.repository?.directory !== directory
  )
    problems.push(
      `repository must be { type: 'git', url: 'git+${REPOSITORY}.git', directory: '${directory}' }`,
    );
  if (m.homepage !== `${REPOSITORY}/tree/main/${directory}#readme`)
    problems.push(`homepage must be ${REPOSITORY}/tree/main/${directory}#readme`);
  if (m.bugs?.url !== `${REPOSITORY}/issues`) problems.push(`bugs.url must be ${REPOSITORY}/issues`);
  if (typeof m.engines?.node !== 'string') problems.push('no engines.node');
  return problems;
}

/**
 * Links in the packed README: on npm a relative link resolves to nothing, so every link is
 * absolute (or an anchor), and one into this repository names a file that exists here.
 */
function readmeProblems(readme) {
  const problems = [];
  const targets = [
    ...readme.matchAll(/\]\(([^)\s]+)\)/g),
    ...readme.matchAll(/^\[[^\]]+\]:\s*(\S+)/gm),
    ...readme.matchAll(/(?:href|src)="([^"]+)"/g),
  ].map((match) => match[1]);
  for (const target of targets) {
    if (target.startsWith('#') || target.startsWith('mailto:')) continue;
    if (!/^https?:\/\//.test(target)) {
      problems.push(`relative link ${target}`);
      continue;
    }
    const own = new RegExp(`^${REPOSITORY}/(?:blob|tree)/main/([^#?]+)`).exec(target);
    if (own && !existsSync(join(root, decodeURIComponent(own[1]))))
      problems.push(`link to a missing file ${target}`);
  }
  return problems;
}

/** Packs the package into `out`; returns the tarball's path, or a problem. */
function pack(pkg, out) {
  // pnpm, not npm: only pnpm rewrites `workspace:*` ranges the way publishing does.
  if (!run('pnpm', ['pack', '--pack-destination', out], pkg.dir)) return { problem: 'pnpm pack failed' };
  const tarballs = readdirSync(out).filter((f) => f.endsWith('.tgz'));
  if (tarballs.length !== 1) return { problem: `expected one tarball, found ${tarballs.length}` };
  return { tarball: join(out, tarballs[0]) };
}

function check(pkg, out) {
  // attw exits 0 for a package without any types; every package here is TypeScript and must ship them.
  if (!declaresTypes(pkg.manifest)) return { problem: 'package.json declares no types' };
  const packed = pack(pkg, out);
  if (packed.problem) return packed;
  const { tarball } = packed;

  const failed = [];
  // --strict: warnings (e.g. a file referenced by exports but not packed) fail too; suggestions do not.
  if (!run(bin('publint'), ['run', tarball, '--strict'], root)) failed.push('publint');
  // The default "strict" profile also judges node10 resolution (`main`/`types`
  // for old tooling). @keel/core passes it, thanks to its top-level `types`, so no
  // profile is relaxed here; a package that genuinely drops node10 should say so
  // with `--profile node16` and a reason, per package.
  if (!run(bin('attw'), [tarball], root)) failed.push('attw');
  const problems = failed.length ? [`${failed.join(' and ')} found problems (did \`pnpm build\` run?)`] : [];
  problems.push(...metadataProblems(pkg));
  const readme = spawnSync('tar', ['-xOzf', tarball, 'package/README.md'], { encoding: 'utf8' });
  if (readme.status !== 0) problems.push('no README.md in the tarball');
  else problems.push(...readmeProblems(readme.stdout));
  return { tarball, problem: problems.length ? problems.join('; ') : null };
}

// A user's app, in each module system, using every server-side package's entry under
// `tsc --strict` with library checking on: a type the packages use must come with them.
const ESM_CONSUMER = `import { createKeel, type HealthReport } from '@keel/core';
import { instrument } from '@keel/express';
import { keelFastify } from '@keel/fastify';
import { createPool, fingerprint } from '@keel/pg';
import express from 'express';
import Fastify from 'fastify';

const keel = createKeel({ service: 'esm-consumer' });
instrument(express(), { keel });
await Fastify().register(keelFastify, { keel });
const pool = createPool(keel, { pg: { connectionString: 'postgres://127.0.0.1/none', max: 2 } });
const { rows } = await pool.query<{ id: number }>('SELECT 1 AS id');
const id: number | undefined = rows[0]?.id;
const report: HealthReport = keel.health();
console.log(id, report.score, fingerprint('SELECT 1').text);
`;
const CJS_CONSUMER = `import core = require('@keel/core');
import keelExpress = require('@keel/express');
import keelFastifyModule = require('@keel/fastify');
import keelPg = require('@keel/pg');
import express = require('express');
import Fastify = require('fastify');

async function main(): Promise<void> {
  const keel = core.createKeel({ service: 'cjs-consumer' });
  keelExpress.instrument(express(), { keel });
  await Fastify.fastify().register(keelFastifyModule.keelFastify, { keel });
  const pool = keelPg.createPool(keel, { pg: { connectionString: 'postgres://127.0.0.1/none', max: 2 } });
  const { rows } = await pool.query<{ id: number }>('SELECT 1 AS id');
  const report: core.HealthReport = keel.health();
  console.log(rows[0]?.id, report.score);
}
void main();
`;

/** `npm install` in `dir` (a fresh project, with `overrides` if given); prints and returns what npm said. */
function npmInstall(dir, specs, overrides) {
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ name: 'keel-consumer', private: true, type: 'module', overrides }, null, 2),
  );
  const install = spawnSync('npm', ['install', '--no-audit', '--no-fund', ...specs], {
    cwd: dir,
    encoding: 'utf8',
  });
  const said = `${install.stdout}${install.stderr}`;
  process.stdout.write(said);
  const engines = said.split('\n').filter((line) => line.includes('EBADENGINE'));
  return {
    failed: install.status !== 0 ? `npm install failed (exit ${install.status})` : null,
    engines:
      engines.length > 0 ? `npm warns EBADENGINE on Node ${process.version}: ${engines.join(' | ')}` : null,
  };
}

/**
 * Installs the tarballs with npm into a fresh project, as a user would, with the
 * frameworks and the types a TypeScript app has; returns the problems found.
 */
function checkConsumers(tarballs) {
  const dir = mkdtempSync(join(tmpdir(), 'keel-consumer-'));
  try {
    const { failed, engines } = npmInstall(dir, [
      ...tarballs,
      'express@5',
      '@types/express@5',
      'fastify@5',
      'pg@8',
      'prom-client@15',
      `@types/node@${process.versions.node.split('.')[0]}`,
      'typescript@5.9',
    ]);
    if (failed) return [failed];
    const problems = engines ? [engines] : [];
    writeFileSync(join(dir, 'esm.mts'), ESM_CONSUMER);
    writeFileSync(join(dir, 'cjs.cts'), CJS_CONSUMER);
    // One program per module system, as an app is one or the other. (In one program with both,
    // @keel/fastify's two declaration files would each augment FastifyInstance with their own Keel.)
    for (const [name, file] of [
      ['ESM', 'esm.mts'],
      ['CommonJS', 'cjs.cts'],
    ]) {
      const config = `tsconfig.${file}.json`;
      writeFileSync(
        join(dir, config),
        JSON.stringify({
          compilerOptions: {
            strict: true,
            noEmit: true,
            module: 'nodenext',
            moduleResolution: 'nodenext',
            target: 'es2022',
            skipLibCheck: false,
            types: ['node'],
          },
          files: [file],
        }),
      );
      if (!run(join(dir, 'node_modules', '.bin', 'tsc'), ['-p', config, '--strict', '--noEmit'], dir))
        problems.push(`tsc --strict --noEmit failed on the ${name} consumer`);
    }
    return problems;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A Fastify app without @keel/express: fastify 5's own light-my-request (6.8) needs cookie 2,
 * which declares Node >= 22, so npm warns on Node 20 with or without Keel. @keel/fastify's
 * README gives the override that avoids it; this checks that it does.
 */
function checkFastifyOverride(tarballs) {
  const dir = mkdtempSync(join(tmpdir(), 'keel-fastify-consumer-'));
  try {
    const own = tarballs.filter((t) => /keel-(core|fastify)-/.test(t));
    const { failed, engines } = npmInstall(dir, [...own, 'fastify@5', 'prom-client@15'], {
      'light-my-request': '~6.6.0',
    });
    return [failed, engines].filter(Boolean);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const packages = publicPackages();
if (packages.length === 0) {
  console.error('check-packages: no public package found in packages/*');
  process.exit(1);
}

const out = mkdtempSync(join(tmpdir(), 'keel-pack-'));
try {
  const results = packages.map((pkg) => {
    console.log(`\n=== ${pkg.name} ===`);
    const dir = mkdtempSync(join(out, 'p-'));
    return { name: pkg.name, ...check(pkg, dir) };
  });
  const tarballs = results.map((r) => r.tarball).filter(Boolean);
  console.log('\n=== npm install of every tarball, and the ESM and CommonJS consumers ===');
  const consumers =
    tarballs.length === results.length ? checkConsumers(tarballs) : ['not every package packed'];
  console.log('\n=== a Fastify app with the override @keel/fastify documents ===');
  const fastifyOnly = tarballs.length === results.length ? checkFastifyOverride(tarballs) : [];

  console.log('\ncheck-packages:');
  for (const { name, problem } of results)
    console.log(`  ${problem ? 'FAIL' : 'ok  '} ${name}${problem ? `: ${problem}` : ''}`);
  const consumerProblem = consumers.join('; ');
  console.log(
    `  ${consumerProblem ? 'FAIL' : 'ok  '} npm install on Node ${process.version}, tsc --strict (ESM, CommonJS)${consumerProblem ? `: ${consumerProblem}` : ''}`,
  );
  const fastifyProblem = fastifyOnly.join('; ');
  console.log(
    `  ${fastifyProblem ? 'FAIL' : 'ok  '} npm install of a Fastify app with light-my-request ~6.6.0${fastifyProblem ? `: ${fastifyProblem}` : ''}`,
  );
  if (results.some((r) => r.problem) || consumerProblem || fastifyProblem) process.exitCode = 1;
} finally {
  rmSync(out, { recursive: true, force: true });
}

#!/usr/bin/env node
// Checks what npm users would install: packs every public package in packages/*
// exactly as `pnpm publish` would (workspace: ranges rewritten, `files` applied)
// and lints the tarball with publint and attw ("are the types wrong").
// Run after `pnpm build`: the tarballs contain the built dist/.
//
//   node scripts/check-packages.mjs
//
// Prints one line per package and exits 1 if any check failed.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

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

function check(pkg) {
  // attw exits 0 for a package without any types; every package here is TypeScript and must ship them.
  if (!declaresTypes(pkg.manifest)) return 'package.json declares no types';
  const out = mkdtempSync(join(tmpdir(), 'keel-pack-'));
  try {
    // pnpm, not npm: only pnpm rewrites `workspace:*` ranges the way publishing does.
    if (!run('pnpm', ['pack', '--pack-destination', out], pkg.dir)) return 'pnpm pack failed';
    const tarballs = readdirSync(out).filter((f) => f.endsWith('.tgz'));
    if (tarballs.length !== 1) return `expected one tarball, found ${tarballs.length}`;
    const tarball = join(out, tarballs[0]);

    const failed = [];
    // --strict: warnings (e.g. a file referenced by exports but not packed) fail too; suggestions do not.
    if (!run(bin('publint'), ['run', tarball, '--strict'], root)) failed.push('publint');
    // The default "strict" profile also judges node10 resolution (`main`/`types`
    // for old tooling). @keel/core passes it, thanks to its top-level `types`, so no
    // profile is relaxed here; a package that genuinely drops node10 should say so
    // with `--profile node16` and a reason, per package.
    if (!run(bin('attw'), [tarball], root)) failed.push('attw');
    return failed.length ? `${failed.join(' and ')} found problems (did \`pnpm build\` run?)` : null;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

const packages = publicPackages();
if (packages.length === 0) {
  console.error('check-packages: no public package found in packages/*');
  process.exit(1);
}

const results = packages.map((pkg) => {
  console.log(`\n=== ${pkg.name} ===`);
  return { name: pkg.name, problem: check(pkg) };
});

console.log('\ncheck-packages:');
for (const { name, problem } of results)
  console.log(`  ${problem ? 'FAIL' : 'ok  '} ${name}${problem ? `: ${problem}` : ''}`);
if (results.some((r) => r.problem)) process.exitCode = 1;

// Copies the current build of @keel/core, @keel/express and @keel/fastify
// aside, for a before/after comparison in one run of run.mjs:
//
//   pnpm build && node bench/http/snapshot.mjs /tmp/keel-before   # before the change
//   ...change, then: pnpm build && BEFORE=/tmp/keel-before node bench/http/run.mjs
//
// The copies get a node_modules of their own: the copied adapters load the
// copied core, and every other dependency is the workspace's (symlinked), so
// the two builds differ only in Keel's own code.

import { cpSync, mkdirSync, readdirSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const target = process.argv[2];
if (!target) {
  console.error('usage: node bench/http/snapshot.mjs <dir>');
  process.exit(2);
}
const dir = resolve(target);
rmSync(dir, { recursive: true, force: true });

for (const name of ['core', 'express', 'fastify']) {
  const from = join(root, 'packages', name);
  const to = join(dir, name);
  mkdirSync(to, { recursive: true });
  cpSync(join(from, 'package.json'), join(to, 'package.json'));
  cpSync(join(from, 'dist'), join(to, 'dist'), { recursive: true });
  const modules = join(to, 'node_modules');
  mkdirSync(modules);
  for (const entry of readdirSync(join(from, 'node_modules'))) {
    if (entry === '.bin' || entry === '@keel') continue;
    symlinkSync(realpathSync(join(from, 'node_modules', entry)), join(modules, entry));
  }
  if (name !== 'core') {
    mkdirSync(join(modules, '@keel'));
    symlinkSync(join(dir, 'core'), join(modules, '@keel', 'core'));
  }
}
console.log(`copied the build of @keel/core, @keel/express and @keel/fastify to ${dir}`);

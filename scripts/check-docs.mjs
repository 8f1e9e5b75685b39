#!/usr/bin/env node
// Checks that docs/architecture.md still matches the tree: every path it
// names exists, its table lists every package and every folder of
// packages/core/src, and its layer diagram lists every core folder and no
// other. A renamed or split file then fails `pnpm test` instead of leaving
// the page to drift.
//
//   node scripts/check-docs.mjs
//
// A path is a `code span` holding a "/" or ending in a file extension. It
// may be written from the repository root, from packages/, from
// packages/core/src/ (core's own files), from any package's folder (what
// every package has, such as `src/index.ts`), or, in the concept table, from
// that row's folder. Spans with a placeholder or a pattern (`<name>`, `*`),
// URL paths (`/health`), package names (`@keel/core`) and schema ids
// (`keel-cli/1`) are not paths.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const PAGE = 'docs/architecture.md';
const EXTENSION = /\.(ts|mts|cts|js|mjs|cjs|json|md|html|css|yaml|yml)$/;

const dirs = (path) =>
  readdirSync(join(root, path), { withFileTypes: true })
    .filter((e) => e.isDirectory() && e.name !== 'node_modules' && e.name !== 'dist')
    .map((e) => e.name);

const packages = dirs('packages');
const coreFolders = dirs('packages/core/src');
const BASES = ['', 'packages/', 'packages/core/src/', ...packages.map((p) => `packages/${p}/`)];

function isPath(span) {
  if (!(span.includes('/') || EXTENSION.test(span))) return false;
  if (/[\s<>*(){}[\]|,]/.test(span) || span.startsWith('/') || span.startsWith('@')) return false;
  return !/^[\w.-]+\/\d+$/.test(span);
}

const exists = (path, bases) => bases.some((base) => existsSync(join(root, base, path)));

const text = readFileSync(join(root, PAGE), 'utf8');
const problems = [];
const tableFolders = [];
let diagram = '';
let fence = false;

for (const [i, line] of text.split('\n').entries()) {
  if (line.startsWith('```')) {
    fence = !fence;
    continue;
  }
  if (fence) {
    diagram += `${line}\n`;
    continue;
  }
  // A row of the concept table: its first cell names the folder the row's other paths are in.
  const bases = [...BASES];
  const row = /^\| `([^`]+)`/.exec(line);
  if (row && isPath(row[1])) {
    tableFolders.push(row[1]);
    bases.unshift(`packages/${row[1]}`);
  }
  for (const [, span] of line.matchAll(/`([^`]+)`/g)) {
    if (isPath(span) && !exists(span, bases)) problems.push(`${PAGE}:${i + 1}: \`${span}\` does not exist`);
  }
}

for (const name of packages) {
  if (!tableFolders.some((f) => f.startsWith(`${name}/`)))
    problems.push(`${PAGE}: the concept table has no row for packages/${name}/`);
}
for (const name of coreFolders) {
  if (!tableFolders.includes(`core/src/${name}/`))
    problems.push(`${PAGE}: the concept table has no row for packages/core/src/${name}/`);
}
// The diagram's core layers: every folder named "x/" in them is a core folder, and every core folder is there.
const layers = diagram.slice(diagram.indexOf('\n core\n'));
const drawn = new Set([...layers.matchAll(/(?<=\s)([a-z-]+)\/(?=\s|$)/g)].map((m) => m[1]));
for (const name of drawn) {
  if (!coreFolders.includes(name))
    problems.push(`${PAGE}: the layer diagram draws ${name}/, not a core folder`);
}
for (const name of coreFolders) {
  if (!drawn.has(name)) problems.push(`${PAGE}: the layer diagram does not draw packages/core/src/${name}/`);
}

if (problems.length > 0) {
  for (const p of problems) console.error(p);
  console.error(`check-docs: ${problems.length} problem(s); update ${PAGE} to match the tree.`);
  process.exit(1);
}
console.log(`check-docs: ${PAGE} matches the tree.`);

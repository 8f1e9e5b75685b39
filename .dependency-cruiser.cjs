// The architecture as rules (`pnpm check:deps`, run by `pnpm test`): no import
// cycles anywhere, @keel/core's folders in layers that only import downwards,
// and packages that meet only through each other's public entry.
// docs/architecture.md draws the same layers.

/** @keel/core's layers, lowest first. A file may import its own layer or lower ones, never higher. */
const CORE_LAYERS = [
  // what everything stands on: time, errors, events, how options are read
  {
    name: 'foundation',
    paths: ['clock\\.ts', 'errors\\.ts', 'events\\.ts', 'option-readers\\.ts', 'named-set\\.ts'],
  },
  // what travels with one request
  { name: 'context', paths: ['context/'] },
  // measurements and their rolling windows; the runtime sampler is a signal source
  { name: 'signals', paths: ['signals/', 'runtime/'] },
  // judging the windows (budgets), and the mitigations' building blocks
  { name: 'budgets', paths: ['budgets/', 'pressure/', 'breaker/', 'cache/'] },
  // the score, readiness and the report
  { name: 'health', paths: ['health/'] },
  // what one instance can serve, measured, and what capacity costs (`keel.capacity`)
  { name: 'capacity', paths: ['capacity/'] },
  // where a slow route's time goes and what to fix (reads signals, budgets and request profiles)
  { name: 'optimise', paths: ['optimise/'] },
  // what answers HTTP: the endpoints, the dashboard page, the vitals beacon collector, graceful shutdown
  { name: 'endpoints', paths: ['http/', 'dashboard/', 'vitals/', 'shutdown/'] },
  // what reads everything and exports it
  { name: 'exporters', paths: ['prometheus/', 'otel/'] },
  // the composition root and the public entry
  // (config/: keel.config files for the app and the CLI, read through the composed options)
  { name: 'composition', paths: ['keel\\.ts', 'options\\.ts', 'index\\.ts', 'config/'] },
];

const core = (paths) => `^packages/core/src/(${paths.join('|')})`;

const layerRules = CORE_LAYERS.slice(0, -1).map((layer, i) => ({
  name: `core-layer-${layer.name}`,
  comment: `@keel/core's ${layer.name} layer imports only from itself and the layers below it (see docs/architecture.md).`,
  severity: 'error',
  from: { path: core(layer.paths) },
  to: { path: core(CORE_LAYERS.slice(i + 1).flatMap((l) => l.paths)) },
}));

/** What another package may import: its public entry (the source in this repo, the build once installed). */
const PUBLIC_ENTRY =
  '^packages/[^/]+/(src/index\\.ts|index\\.mjs|index\\.d\\.mts|dist/index\\.(js|cjs|d\\.ts|d\\.cts))$';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment:
        'An import cycle ties concepts together so neither can change alone; type-only imports count too.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    ...layerRules,
    {
      name: 'core-imports-no-adapter',
      comment:
        '@keel/core is the engine under every adapter (express, fastify, pg, monitor, web-vitals, cli): it never imports one.',
      severity: 'error',
      from: { path: '^packages/core/' },
      to: { path: '^packages/(?!core/)' },
    },
    {
      name: 'packages-meet-at-their-public-entry',
      comment:
        'A package, example or benchmark uses another package only through its public entry (`@keel/core`), never its internals.',
      severity: 'error',
      from: { path: '^(packages/([^/]+)|examples|bench)/' },
      to: { path: '^packages/', pathNot: ['^packages/$2/', PUBLIC_ENTRY] },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'An import the checker cannot resolve would slip past every rule above.',
      severity: 'error',
      from: { path: '^(packages|examples)/' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: ['node_modules'] },
    exclude: { path: ['(^|/)node_modules/', '(^|/)dist/', '(^|/)coverage/'] },
    // Type-only imports are dependencies too: a type-level cycle is still a cycle.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.mts', '.js', '.mjs', '.cjs', '.d.ts'],
    },
    // `import ... from './x.js'` names the TypeScript source x.ts.
    extraExtensionsToScan: ['.mjs'],
  },
};

import { defineConfig } from 'tsup';

export default defineConfig([
  {
    entry: ['src/index.ts'],
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    minify: false,
    target: 'node20',
    external: ['@keel/core', 'pg'],
    tsconfig: 'tsconfig.build.json',
  },
  {
    // The `keel-pg` command (bin/keel-pg.js imports it): one ESM file, not part of the exports map.
    entry: { cli: 'src/cli.ts' },
    format: ['esm'],
    sourcemap: true,
    minify: false,
    target: 'node20',
    external: ['@keel/core', 'pg'],
    tsconfig: 'tsconfig.build.json',
  },
]);

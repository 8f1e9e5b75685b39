import type { Options } from 'tsup';

/**
 * How every Keel package is built: ESM and CJS with `.d.ts`, sourcemaps,
 * unminified (stack traces in users' apps stay readable), for Node 20.
 * Dependencies and peer dependencies stay external (tsup's default).
 */
export function keelPackage(overrides: Options = {}): Options {
  return {
    entry: ['src/index.ts'],
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    minify: false,
    target: 'node20',
    tsconfig: 'tsconfig.build.json',
    ...overrides,
  };
}

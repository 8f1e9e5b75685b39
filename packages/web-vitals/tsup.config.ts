import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  minify: false,
  // Browsers, not Node: the code is shipped to users' pages through the app's bundler.
  target: 'es2020',
  platform: 'browser',
  external: ['web-vitals'],
  tsconfig: 'tsconfig.build.json',
});

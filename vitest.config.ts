import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Tests run against the sources, so `pnpm test:unit` needs no build step; the
// packed output is checked separately by scripts/check-packages.mjs.
const source = (pkg: string) => fileURLToPath(new URL(`./packages/${pkg}/src/index.ts`, import.meta.url));

export default defineConfig({
  resolve: {
    alias: {
      '@keel/core': source('core'),
      '@keel/fastify': source('fastify'),
      '@keel/express': source('express'),
      '@keel/web-vitals': source('web-vitals'),
      '@keel/monitor': source('monitor'),
      '@keel/pg': source('pg'),
      '@keel/cli': source('cli'),
    },
  },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'examples/*/test/**/*.test.ts', 'scripts/test/**/*.test.ts'],
    typecheck: {
      enabled: true,
      include: ['packages/*/test/**/*.test-d.ts'],
      tsconfig: './tsconfig.json',
    },
    testTimeout: 20_000,
    hookTimeout: 30_000,
  },
});

import { fileURLToPath } from 'node:url';
import type { BuildOptions } from 'esbuild';

/** The page's sources (frontend/src) and where the production build is committed (frontend/assets). */
export const FRONTEND_SOURCES = fileURLToPath(new URL('../../frontend/src/', import.meta.url));
export const FRONTEND_ASSETS = fileURLToPath(new URL('../../frontend/assets/', import.meta.url));
/** The repository's tsconfig: its `paths` point `@keel/web-vitals` at the package's source. */
const REPO_TSCONFIG = fileURLToPath(new URL('../../../../tsconfig.json', import.meta.url));

/**
 * How the page's JavaScript and CSS are built. `production` is what
 * `pnpm build:frontend` commits: minified, the rarely used export feature
 * split into its own chunk, content-hashed names. `development` is what a
 * careless app deploys: one unminified bundle with everything in it and the
 * source maps inline.
 */
export function bundleOptions(mode: 'production' | 'development'): BuildOptions {
  const shared: BuildOptions = {
    absWorkingDir: FRONTEND_SOURCES,
    bundle: true,
    format: 'esm',
    target: 'es2020',
    tsconfig: REPO_TSCONFIG,
    logLevel: 'silent',
    legalComments: 'none',
    metafile: true,
  };
  if (mode === 'production') {
    return {
      ...shared,
      entryPoints: { app: 'app.js', critical: 'critical.css', styles: 'styles.css' },
      splitting: true,
      minify: true,
      entryNames: '[name].[hash]',
      chunkNames: '[name].[hash]',
      outdir: FRONTEND_ASSETS,
    };
  }
  return {
    ...shared,
    // A classic script (the careless page runs it from the head), everything inlined.
    format: 'iife',
    entryPoints: { app: 'app.js', styles: 'all.css' },
    splitting: false,
    minify: false,
    sourcemap: 'inline',
    outdir: '/careless',
    write: false,
  };
}

import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type express from 'express';
import type { Express } from 'express';

const PAGE = fileURLToPath(new URL('../public/vitals-demo.html', import.meta.url));

/**
 * The browser files, found where npm put them: `@keel/web-vitals` (its ES
 * module build) and the `web-vitals` it imports. Resolved on first use, so the
 * rest of the app runs even before `pnpm build`.
 */
function browserFiles(): { keel: string; webVitals: string } {
  const require = createRequire(import.meta.url);
  const manifest = require.resolve('@keel/web-vitals/package.json');
  // web-vitals exports no package.json: its CommonJS entry sits beside the ES module.
  const webVitalsMain = createRequire(manifest).resolve('web-vitals');
  return {
    keel: join(dirname(manifest), 'dist/index.js'),
    webVitals: join(dirname(webVitalsMain), 'web-vitals.js'),
  };
}

/**
 * `GET /vitals-demo`: a page that loads `@keel/web-vitals` and beacons its
 * Web Vitals and TTI to `/keel/vitals`, which `@keel/express` mounts. The
 * values land in the `page_load` (TTI), `lcp`, `inp` and `cls` budgets of `/health`.
 */
export function mountVitalsDemo(app: Express): void {
  let files: ReturnType<typeof browserFiles> | undefined;
  const serve = (pick: (f: ReturnType<typeof browserFiles>) => string): express.RequestHandler => {
    return (_req, res, next) => {
      try {
        files ??= browserFiles();
      } catch (error) {
        next(error);
        return;
      }
      // pnpm keeps packages under node_modules/.pnpm, a dot directory `send` skips by default.
      res.type('text/javascript').sendFile(pick(files), { maxAge: '1h', dotfiles: 'allow' });
    };
  };
  app.get('/vitals-demo', (_req, res) => {
    res.sendFile(PAGE);
  });
  app.get(
    '/assets/keel-web-vitals.js',
    serve((f) => f.keel),
  );
  app.get(
    '/assets/web-vitals.js',
    serve((f) => f.webVitals),
  );
}

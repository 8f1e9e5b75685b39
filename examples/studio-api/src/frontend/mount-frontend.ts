import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import compression from 'compression';
import express, { type Express, type RequestHandler } from 'express';
import { FRONTEND_ASSETS } from './bundle.js';
import { CARELESS_IMAGES, carelessFiles } from './careless-assets.js';
import { galleryCareless, galleryPage } from './gallery.js';
import { readManifest } from './manifest.js';
import { renderPage } from './page.js';

/** The page and its data, listed by `GET /` with the app's other routes. */
export const FRONTEND_ROUTES = ['GET /app', 'GET /api/gallery?limit=N&offset=N'] as const;
/** The HTML pages `GET /` lists for `keel audit`. */
export const FRONTEND_PAGES = ['/app'] as const;

export interface FrontendOptions {
  /**
   * Serve the page the way a careless app does: no compression, no cache
   * headers or validators, the development build, full-size PNG and JPEG,
   * the connection closed after every answer. `KEEL_DEMO_CARELESS=1`.
   * @default false
   */
  careless?: boolean;
}

/**
 * Mounts the studio's gallery page (`GET /app`), its data (`GET /api/gallery`)
 * and its files (`/static/...`). Call it before the app's routes: in good mode
 * it also adds response compression for the whole app.
 */
export function mountFrontend(
  app: Express,
  options: FrontendOptions = { careless: process.env.KEEL_DEMO_CARELESS === '1' },
): void {
  if (options.careless) mountCareless(app);
  else mountGood(app);
}

/**
 * The way a good app serves it: gzip or brotli for every text answer over
 * 1 KiB (compression's default threshold), content-hashed file names cached
 * for a year as `immutable`, critical CSS inlined, WebP at the sizes shown.
 */
function mountGood(app: Express): void {
  app.use(compression());
  app.use(defaultCachePolicy);
  const manifest = readManifest();
  const file = (name: string) => `/static/${name}`;
  const picture = (scene: 'hero' | 'detail') => {
    const sizes = manifest.images[scene];
    const shown = sizes.find((s) => s.width === 700) ?? sizes[0]!;
    return {
      src: file(shown.file),
      srcset: sizes.map((s) => `${file(s.file)} ${s.width}w`).join(', '),
      width: shown.width,
      height: Math.round((shown.width * 10) / 16),
    };
  };
  const html = renderPage({
    criticalCss: readFileSync(join(FRONTEND_ASSETS, manifest.critical), 'utf8').trim(),
    stylesheet: file(manifest.styles),
    script: file(manifest.app),
    hero: picture('hero'),
    detail: picture('detail'),
  });
  app.use(
    '/static',
    express.static(FRONTEND_ASSETS, { immutable: true, maxAge: '365d', index: false, fallthrough: true }),
  );
  app.get('/app', (_req, res) => {
    // The page itself names the hashed files, so it must be revalidated on every visit (ETag, 304).
    res.set('Cache-Control', 'no-cache').type('html').send(html);
  });
  app.get('/api/gallery', galleryPage);
}

/**
 * Every GET answer states a cache policy: a route that sets none gets
 * `no-cache` (caches may keep it but must revalidate, which the ETag makes a
 * 304), set as the head goes out so the routes' own policies win.
 */
const defaultCachePolicy: RequestHandler = (req, res, next) => {
  if (req.method === 'GET' || req.method === 'HEAD') {
    const writeHead = res.writeHead;
    res.writeHead = function (this: typeof res, ...args: Parameters<typeof writeHead>) {
      // Keel's response cache (X-Cache) sets its own policy when it stores the answer; a no-cache
      // added under it would keep the answer out of the cache.
      if (!this.hasHeader('cache-control') && !this.hasHeader('x-cache'))
        this.setHeader('Cache-Control', 'no-cache');
      return writeHead.apply(this, args);
    } as typeof writeHead;
  }
  next();
};

let prepared: ReturnType<typeof carelessFiles> | undefined;

/**
 * Makes the careless mode's files now, when `KEEL_DEMO_CARELESS=1`: a few
 * seconds of CPU. Call it before `createKeel`, so that time is not measured as
 * event-loop delay (Keel would shed load on it).
 */
export function prepareFrontend(env: NodeJS.ProcessEnv = process.env): void {
  if (env.KEEL_DEMO_CARELESS === '1') prepared ??= carelessFiles();
}

function mountCareless(app: Express): void {
  prepared ??= carelessFiles();
  const files = prepared;
  const { hero, detail } = CARELESS_IMAGES;
  const html = renderPage({
    criticalCss: null,
    stylesheet: '/static/styles.css',
    script: '/static/app.js',
    hero: { src: '/static/hero.png', srcset: null, ...hero },
    detail: { src: '/static/detail.jpg', srcset: null, ...detail },
  });
  app.get('/static/:name', (req, res, next) => {
    const found = files.get(req.params.name);
    if (!found) {
      next();
      return;
    }
    res.set({ 'Content-Type': found.type, Connection: 'close' }).end(found.body);
  });
  app.get('/app', (_req, res) => {
    res.set({ 'Content-Type': 'text/html; charset=utf-8', Connection: 'close' }).end(html);
  });
  app.get('/api/gallery', galleryCareless);
}

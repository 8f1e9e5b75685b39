// Builds the demo page's production assets into frontend/assets (committed):
// the JavaScript and CSS with esbuild (minified, code-split, hashed names) and
// the pictures as WebP at the widths the page's srcset offers, with
// manifest.json naming them. Run it after changing frontend/src or
// src/frontend/picture.ts:   pnpm --filter studio-api build:frontend
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, join } from 'node:path';
import encode, { init } from '@jsquash/webp/encode.js';
import { build } from 'esbuild';
import { bundleOptions, FRONTEND_ASSETS } from '../src/frontend/bundle.js';
import { IMAGE_WIDTHS, type Manifest } from '../src/frontend/manifest.js';
import { drawPicture, type Scene } from '../src/frontend/picture.js';

// The encoder is WebAssembly shipped inside the npm package: compiled here, nothing downloaded.
const require = createRequire(import.meta.url);
const wasm = readFileSync(join(require.resolve('@jsquash/webp/package.json'), '../codec/enc/webp_enc.wasm'));
await init(await WebAssembly.compile(wasm));

rmSync(FRONTEND_ASSETS, { recursive: true, force: true });
mkdirSync(FRONTEND_ASSETS, { recursive: true });

const result = await build(bundleOptions('production'));
const outputs = Object.entries(result.metafile!.outputs);
const entry = (name: string) => {
  const found = outputs.find(([, o]) => o.entryPoint !== undefined && basename(o.entryPoint) === name);
  if (!found) throw new Error(`build-frontend: no output for ${name}`);
  return basename(found[0]);
};

const images = {} as Manifest['images'];
for (const scene of Object.keys(IMAGE_WIDTHS) as Scene[]) {
  images[scene] = [];
  for (const width of IMAGE_WIDTHS[scene]) {
    const pixels = drawPicture(scene, width, Math.round((width * 10) / 16));
    const bytes = Buffer.from(await encode({ ...pixels, colorSpace: 'srgb' }, { quality: 70 }));
    const hash = createHash('sha256').update(bytes).digest('hex').slice(0, 10);
    const file = `${scene}-${width}.${hash}.webp`;
    writeFileSync(join(FRONTEND_ASSETS, file), bytes);
    images[scene].push({ width, file });
  }
}

const manifest: Manifest = {
  app: entry('app.js'),
  critical: entry('critical.css'),
  styles: entry('styles.css'),
  images,
};
writeFileSync(join(FRONTEND_ASSETS, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
console.log(`frontend/assets: ${outputs.length} bundles, ${Object.values(images).flat().length} images`);

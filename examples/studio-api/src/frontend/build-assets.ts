import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, join } from 'node:path';
import { build } from 'esbuild';
import { bundleOptions, FRONTEND_ASSETS } from './bundle.js';
import { IMAGE_WIDTHS, type Manifest } from './manifest.js';
import { drawPicture, type Scene } from './picture.js';

/** @jsquash/webp's encoder, its WebAssembly read from the npm package (nothing downloaded). */
async function webpEncoder() {
  const { default: encode, init } = await import('@jsquash/webp/encode.js');
  const require = createRequire(import.meta.url);
  const wasm = readFileSync(
    join(require.resolve('@jsquash/webp/package.json'), '../codec/enc/webp_enc.wasm'),
  );
  // Node's WebAssembly global (the repo's type setup has no DOM lib, where its types live).
  const { WebAssembly: wasmApi } = globalThis as unknown as {
    WebAssembly: { compile(bytes: Uint8Array): Promise<Parameters<typeof init>[0]> };
  };
  await init(await wasmApi.compile(wasm));
  return encode;
}

/**
 * Builds the page's production files into frontend/assets (committed): the
 * JavaScript and CSS with esbuild (minified, code-split, hashed names), the
 * pictures as WebP at the widths the srcset offers (content-hashed names),
 * and manifest.json naming them all.
 */
export async function buildAssets(): Promise<Manifest> {
  const encode = await webpEncoder();
  rmSync(FRONTEND_ASSETS, { recursive: true, force: true });
  mkdirSync(FRONTEND_ASSETS, { recursive: true });

  const result = await build(bundleOptions('production'));
  const outputs = Object.entries(result.metafile!.outputs);
  const entry = (name: string) => {
    const found = outputs.find(([, o]) => o.entryPoint !== undefined && basename(o.entryPoint) === name);
    if (!found) throw new Error(`build-assets: no output for ${name}`);
    return basename(found[0]);
  };

  const images = {} as Record<Scene, { width: number; file: string }[]>;
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
  return manifest;
}

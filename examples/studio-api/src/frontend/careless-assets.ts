import { buildSync } from 'esbuild';
import jpeg from 'jpeg-js';
import { bundleOptions } from './bundle.js';
import { drawPicture } from './picture.js';
import { encodePng } from './png.js';

/** One file the careless mode serves from memory. */
export interface CarelessFile {
  readonly type: string;
  readonly body: Buffer;
}

/** The pictures as a designer exported them: three times wider than the page ever shows. */
const HERO = { width: 2000, height: 1250 };
const DETAIL = { width: 1600, height: 1000 };

/**
 * What a careless app deploys: its development build (esbuild, unminified,
 * one bundle holding the rarely used YAML export too, source maps inline) and
 * the designer's full-size pictures — a PNG and a quality-100 JPEG. Made when
 * the careless mode is mounted (a few seconds), nothing is written to disk.
 */
export function carelessFiles(): Map<string, CarelessFile> {
  const built = buildSync({ ...bundleOptions('development'), write: false });
  const files = new Map<string, CarelessFile>();
  for (const output of built.outputFiles ?? []) {
    const name = output.path.split('/').pop()!;
    files.set(name, {
      type: name.endsWith('.css') ? 'text/css; charset=utf-8' : 'text/javascript; charset=utf-8',
      body: Buffer.from(output.contents),
    });
  }
  files.set('hero.png', {
    type: 'image/png',
    body: encodePng(drawPicture('hero', HERO.width, HERO.height)),
  });
  const detail = drawPicture('detail', DETAIL.width, DETAIL.height);
  files.set('detail.jpg', {
    type: 'image/jpeg',
    body: Buffer.from(jpeg.encode({ ...detail, data: Buffer.from(detail.data.buffer) }, 100).data),
  });
  return files;
}

/** The careless page shows the same pictures at the same place; only their files differ. */
export const CARELESS_IMAGES = { hero: HERO, detail: DETAIL } as const;

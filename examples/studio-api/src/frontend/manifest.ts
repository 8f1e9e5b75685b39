import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FRONTEND_ASSETS } from './bundle.js';
import type { Scene } from './picture.js';

/** The widths each picture is encoded at: what the page's srcset offers. */
export const IMAGE_WIDTHS: Readonly<Record<Scene, readonly number[]>> = {
  hero: [400, 700, 1000],
  detail: [400, 700],
};

/** frontend/assets/manifest.json: the production build's hashed file names. */
export interface Manifest {
  readonly app: string;
  readonly critical: string;
  readonly styles: string;
  readonly images: Record<Scene, { readonly width: number; readonly file: string }[]>;
}

export function readManifest(): Manifest {
  return JSON.parse(readFileSync(join(FRONTEND_ASSETS, 'manifest.json'), 'utf8')) as Manifest;
}

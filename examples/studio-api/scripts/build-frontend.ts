// Rebuilds the gallery page's production files in frontend/assets (committed).
// Run it after changing frontend/src or src/frontend/picture.ts:
//   pnpm --filter studio-api build:frontend
import { buildAssets } from '../src/frontend/build-assets.js';

const manifest = await buildAssets();
console.log(
  `frontend/assets: ${manifest.app}, ${manifest.styles}, ${Object.values(manifest.images).flat().length} images`,
);

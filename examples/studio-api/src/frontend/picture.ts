/**
 * The demo's two pictures, drawn by code so the repository holds no large
 * image and both serving modes show the same picture: the good mode's WebP
 * files (made once by `pnpm build:frontend`) and the careless mode's PNG and
 * JPEG (encoded when first asked for) come from these pixels.
 */
export type Scene = 'hero' | 'detail';

/** RGBA, row by row: what image encoders take. */
export interface Pixels {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8ClampedArray;
}

/** A small deterministic generator, so every build draws the same grain. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A landscape at dusk (hero) or a close-up of a ridge (detail): a sky
 * gradient, a sun, layered mountain silhouettes, and a film grain that makes a
 * lossless PNG as heavy as a photograph's (lossy formats shrug it off).
 */
export function drawPicture(scene: Scene, width: number, height: number): Pixels {
  const data = new Uint8ClampedArray(width * height * 4);
  const grain = random(scene === 'hero' ? 7 : 11);
  const sunX = scene === 'hero' ? 0.68 : 0.3;
  const sunY = scene === 'hero' ? 0.42 : 0.3;
  const ridges = scene === 'hero' ? [0.55, 0.68, 0.82] : [0.45, 0.62, 0.78];
  for (let y = 0; y < height; y++) {
    const v = y / height;
    for (let x = 0; x < width; x++) {
      const u = x / width;
      // Sky: indigo at the top to amber at the horizon.
      let r = 40 + 200 * v;
      let g = 30 + 120 * v;
      let b = 110 - 40 * v;
      const sun = Math.hypot((u - sunX) * (width / height), v - sunY);
      if (sun < 0.09) {
        r = 255;
        g = 214;
        b = 140;
      } else if (sun < 0.25) {
        const glow = (0.25 - sun) / 0.16;
        r += (255 - r) * glow * 0.5;
        g += (200 - g) * glow * 0.4;
      }
      // Mountains, nearer ones darker.
      ridges.forEach((base, i) => {
        const crest =
          base +
          0.06 * Math.sin(u * (7 + i * 3) + i) +
          0.03 * Math.sin(u * (23 + i * 5) + 2 * i) +
          0.012 * Math.sin(u * 71 + i);
        if (v > crest) {
          const shade = 1 - (i + 1) * 0.22;
          r = 70 * shade + 40 * (v - crest);
          g = 55 * shade + 6 * i;
          b = 95 * shade;
        }
      });
      const n = (grain() - 0.5) * 24;
      const at = (y * width + x) * 4;
      data[at] = r + n;
      data[at + 1] = g + n;
      data[at + 2] = b + n;
      data[at + 3] = 255;
    }
  }
  return { width, height, data };
}

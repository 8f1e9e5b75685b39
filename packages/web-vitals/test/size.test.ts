import { describe, expect, it } from 'vitest';
import { brotliSize, bundle } from './harness.js';

/** The ceiling for the default entry, web-vitals included. */
const LIMIT = 4500;

describe('bundle size', () => {
  it(`ships the default entry, web-vitals included, in at most ${LIMIT} B of brotli`, async () => {
    const script = await bundle();
    const size = brotliSize(script);
    console.log(
      `@keel/web-vitals default entry: ${script.length} B minified, ${size} B brotli (limit ${LIMIT} B)`,
    );
    expect(size).toBeLessThanOrEqual(LIMIT);
    // The bundle is what it claims: web-vitals and the TTI observer are in it.
    expect(script).toContain('longtask');
    expect(script).toContain('sendBeacon');
    expect(script).toContain('largest-contentful-paint');
  });
});

import type { RequestHandler } from 'express';

/** One work in the studio's gallery, as `/api/gallery` lists it. */
export interface Work {
  readonly id: number;
  readonly title: string;
  readonly author: string;
  readonly year: number;
  readonly tags: readonly string[];
  readonly palette: readonly string[];
  readonly description: string;
}

/** How many works the gallery holds: enough that listing them all at once is a real cost. */
export const GALLERY_SIZE = 2000;
/** A page of the gallery when `?limit` is not given, and the most one answer holds. */
export const DEFAULT_LIMIT = 12;
export const MAX_LIMIT = 100;

const ADJECTIVES = [
  'Quiet',
  'Amber',
  'Distant',
  'Hollow',
  'Bright',
  'Folded',
  'Late',
  'Open',
  'Salt',
  'Iron',
];
const NOUNS = [
  'Ridge',
  'Harbour',
  'Orchard',
  'Signal',
  'Meadow',
  'Lantern',
  'Archive',
  'Tide',
  'Field',
  'Room',
];
const AUTHORS = [
  'Ada Lovelace',
  'Grace Hopper',
  'Edsger Dijkstra',
  'Barbara Liskov',
  'Alan Kay',
  'Frances Allen',
];
const TAGS = ['landscape', 'dusk', 'study', 'print', 'series', 'monochrome', 'large', 'archive'];

let works: readonly Work[] | undefined;

/** The gallery, the same on every start (no database needed for the page demo). */
export function gallery(): readonly Work[] {
  works ??= Array.from({ length: GALLERY_SIZE }, (_, i) => {
    const hue = (i * 47) % 360;
    return {
      id: i + 1,
      title: `${ADJECTIVES[i % ADJECTIVES.length]} ${NOUNS[(i * 7) % NOUNS.length]} ${i + 1}`,
      author: AUTHORS[(i * 5) % AUTHORS.length]!,
      year: 1990 + ((i * 13) % 35),
      tags: [TAGS[i % TAGS.length]!, TAGS[(i * 3 + 1) % TAGS.length]!],
      palette: [0, 30, 60, 180, 210].map(
        (shift, k) => `hsl(${(hue + shift) % 360} ${40 + k * 8}% ${30 + k * 10}%)`,
      ),
      description: `Study ${i + 1} of the series: light over a ridge at the end of the day, printed on cotton paper.`,
    };
  });
  return works;
}

function int(value: unknown, fallback: number, max: number): number | null {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !/^\d{1,6}$/.test(value)) return null;
  const n = Number(value);
  return n <= max ? n : null;
}

/** `GET /api/gallery?limit=&offset=`: one page of the gallery, as a good API answers it. */
export const galleryPage: RequestHandler = (req, res) => {
  const limit = int(req.query.limit, DEFAULT_LIMIT, MAX_LIMIT);
  const offset = int(req.query.offset, 0, GALLERY_SIZE);
  if (limit === null || limit === 0 || offset === null) {
    res
      .status(400)
      .json({ error: `limit must be an integer from 1 to ${MAX_LIMIT}, offset from 0 to ${GALLERY_SIZE}` });
    return;
  }
  const all = gallery();
  const next = offset + limit < all.length ? `/api/gallery?limit=${limit}&offset=${offset + limit}` : null;
  // Public data, the same for every visitor: any origin may read it, caches may keep it a minute and
  // revalidate it with the ETag Express adds (a 304 costs no body).
  res.set({ 'Cache-Control': 'public, max-age=60', 'Access-Control-Allow-Origin': '*' });
  res.json({ items: all.slice(offset, offset + limit), total: all.length, next });
};

/**
 * The careless version: the whole gallery in every answer, no validator, no
 * Cache-Control, the connection closed after each answer, and CORS that
 * echoes the caller's Origin without `Vary: Origin` (so a shared cache can
 * hand one origin's answer to another).
 */
export const galleryCareless: RequestHandler = (req, res) => {
  const all = gallery();
  res.set({ 'Content-Type': 'application/json; charset=utf-8', Connection: 'close' });
  if (req.headers.origin) res.set('Access-Control-Allow-Origin', req.headers.origin);
  // res.end, not res.json: Express adds an ETag only on res.send.
  res.end(JSON.stringify({ items: all, total: all.length, next: null }));
};

import { type Fingerprint, fingerprint } from './fingerprint.js';

/** A short, stable hash (FNV-1a, 32 bit) as 8 hex digits, to keep truncated fingerprints distinct. */
export function shortHash(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}

/**
 * Remembers the fingerprints of the query texts an app sends. Apps send a
 * handful of distinct texts again and again, so the scan runs once per text
 * and a query costs one `Map` lookup. Texts with one shape share one record
 * (made by `create`), where callers keep per-shape totals. Bounded: past
 * `max` texts or shapes the oldest are forgotten (an app building SQL with
 * inline values would otherwise grow it forever).
 */
export class FingerprintCache<T extends CachedFingerprint> {
  readonly #byText = new Map<string, T>();
  readonly #byShape = new Map<string, T>();
  readonly #max: number;
  readonly #maxLabelLength: number;
  readonly #create: (fp: CachedFingerprint, sql: string) => T;

  /** `create` makes a shape's entry from its fingerprint and the first text seen with it. */
  constructor(max: number, maxLabelLength: number, create: (fp: CachedFingerprint, sql: string) => T) {
    this.#max = max;
    this.#maxLabelLength = maxLabelLength;
    this.#create = create;
  }

  get(sql: string): T {
    const known = this.#byText.get(sql);
    if (known !== undefined) return known;
    const fp = fingerprint(sql);
    const label = labelOf(fp.text, this.#maxLabelLength);
    let shape = this.#byShape.get(label);
    if (shape === undefined) {
      shape = this.#create({ ...fp, label }, sql);
      if (this.#byShape.size >= this.#max) this.#byShape.delete(this.#byShape.keys().next().value!);
      this.#byShape.set(label, shape);
    }
    if (this.#byText.size >= this.#max) this.#byText.delete(this.#byText.keys().next().value!);
    this.#byText.set(sql, shape);
    return shape;
  }

  shapes(): IterableIterator<T> {
    return this.#byShape.values();
  }

  /** The shape whose label is `label` (what the DB signal and request profiles name it by). */
  byLabel(label: string): T | undefined {
    return this.#byShape.get(label);
  }
}

export interface CachedFingerprint extends Fingerprint {
  /** `text`, cut to fit a label, with a hash of the whole so different long shapes stay apart. */
  readonly label: string;
}

function labelOf(text: string, max: number): string {
  if (text.length <= max) return text;
  const hash = shortHash(text);
  return `${text.slice(0, Math.max(0, max - 10))}…#${hash}`;
}

import { BINADES, BUCKETS, bucketEstimate, SUB_BUCKET_BITS, SUB_BUCKETS, ZERO_BUCKET } from './sketch.js';

/**
 * One interval's worth of samples for one group: a sparse log-linear
 * histogram (pages of 64 buckets, one per binade, allocated on first touch and
 * reused forever after) plus exact counters per exposition boundary.
 */
export class Slot {
  readonly pages: (Uint32Array | undefined)[] = new Array(BINADES).fill(undefined);
  /** Samples per `le` boundary (not cumulative); the last entry is +Inf. */
  readonly le: Float64Array;
  zero = 0;
  count = 0;
  bad = 0;
  sum = 0;

  constructor(boundaryCount: number) {
    this.le = new Float64Array(boundaryCount + 1);
  }

  add(bucket: number, boundary: number, value: number, ok: boolean): void {
    if (bucket === ZERO_BUCKET) {
      this.zero++;
    } else {
      const binade = bucket >>> SUB_BUCKET_BITS;
      const page = this.pages[binade] ?? this.#allocate(binade);
      page[bucket & (SUB_BUCKETS - 1)]!++;
    }
    this.le[boundary]!++;
    this.count++;
    this.sum += value;
    if (!ok) this.bad++;
  }

  /** Samples at or below boundary `index` (inclusive, `le` semantics). */
  countAtOrBelow(index: number): number {
    let n = 0;
    for (let i = 0; i <= index; i++) n += this.le[i]!;
    return n;
  }

  reset(): void {
    if (this.count === 0) return;
    for (const page of this.pages) page?.fill(0);
    this.le.fill(0);
    this.zero = 0;
    this.count = 0;
    this.bad = 0;
    this.sum = 0;
  }

  #allocate(binade: number): Uint32Array {
    const page = new Uint32Array(SUB_BUCKETS);
    this.pages[binade] = page;
    return page;
  }
}

/**
 * The rolling window of one group: a ring of `length + 1` slots, the one
 * being written and `length` closed ones. Rotation is driven by the
 * instance's tick, so the record path never reads a clock.
 */
export class WindowRing {
  readonly slots: Slot[];
  current: Slot;
  #head = 0;

  constructor(length: number, boundaryCount: number) {
    this.slots = Array.from({ length: length + 1 }, () => new Slot(boundaryCount));
    this.current = this.slots[0]!;
  }

  /** Closes the current slot and opens the oldest one, emptied. Returns the closed slot. */
  rotate(): Slot {
    const closed = this.current;
    this.#head = (this.#head + 1) % this.slots.length;
    this.current = this.slots[this.#head]!;
    this.current.reset();
    return closed;
  }

  /** Closed slots, newest first, at most `count`. */
  *closed(count = this.slots.length - 1): Generator<Slot> {
    const n = Math.min(count, this.slots.length - 1);
    for (let i = 1; i <= n; i++) yield this.slots[(this.#head - i + this.slots.length) % this.slots.length]!;
  }
}

/** Merges slots into one histogram to read quantiles and totals from. */
export class WindowSummary {
  readonly counts = new Float64Array(BUCKETS);
  readonly le: Float64Array;
  zero = 0;
  count = 0;
  bad = 0;
  sum = 0;

  constructor(boundaryCount: number) {
    this.le = new Float64Array(boundaryCount + 1);
  }

  clear(): this {
    this.counts.fill(0);
    this.le.fill(0);
    this.zero = 0;
    this.count = 0;
    this.bad = 0;
    this.sum = 0;
    return this;
  }

  addSlot(slot: Slot): void {
    if (slot.count === 0) return;
    for (let binade = 0; binade < BINADES; binade++) {
      const page = slot.pages[binade];
      if (!page) continue;
      const base = binade << SUB_BUCKET_BITS;
      for (let i = 0; i < SUB_BUCKETS; i++) this.counts[base + i]! += page[i]!;
    }
    for (let i = 0; i < slot.le.length; i++) this.le[i]! += slot.le[i]!;
    this.zero += slot.zero;
    this.count += slot.count;
    this.bad += slot.bad;
    this.sum += slot.sum;
  }

  /**
   * Nearest-rank quantile: the sample at rank ceil(q * n), reported as its
   * bucket's estimate (within 0.78 % of the exact sample). `null` when empty.
   */
  quantile(q: number): number | null {
    if (this.count === 0) return null;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = this.zero;
    if (seen >= rank) return 0;
    for (let bucket = 0; bucket < BUCKETS; bucket++) {
      seen += this.counts[bucket]!;
      if (seen >= rank) return bucketEstimate(bucket);
    }
    return bucketEstimate(BUCKETS - 1);
  }

  countAtOrBelow(index: number): number {
    let n = 0;
    for (let i = 0; i <= index; i++) n += this.le[i]!;
    return n;
  }
}

// A deliberately tiny benchmark harness: no library, nothing to configure.
//
// Why alternate instead of "all rounds of A, then all rounds of B": on a
// shared 2-core VM the machine's speed drifts (turbo, noisy neighbours, a GC
// of the previous variant's garbage). Running A, B, C, then B, C, A, ... in
// the same process spreads that drift over every variant, and the median of
// the rounds throws away the round a neighbour stole.
//
// This file reports; it never judges by failing. Timing assertions flake on
// shared runners, so goals are printed as met / not met and the run exits 0.

const gc = globalThis.gc ?? (() => {});

/**
 * @typedef {object} Variant
 * @property {string} name
 * @property {(iterations: number) => unknown} run Performs `iterations` operations
 *   (the loop lives inside `run`, so the harness adds no per-op call). May return a promise.
 *
 * @typedef {object} Result
 * @property {string} name
 * @property {number[]} rounds ns/op of each measured round, in run order
 * @property {number} median ns/op
 * @property {number} min ns/op
 * @property {number} max ns/op
 */

/**
 * Times every variant once per round, rotating which one goes first, after
 * `warmup` unrecorded rounds that let the JIT settle.
 *
 * @param {Variant[]} variants
 * @param {{ iterations: number, rounds?: number, warmup?: number }} options
 * @returns {Promise<Result[]>}
 */
export async function compare(variants, { iterations, rounds = envRounds(7), warmup = 1 }) {
  const perRound = variants.map(() => []);
  for (let round = -warmup; round < rounds; round++) {
    const first = Math.max(round, 0) % variants.length;
    for (let k = 0; k < variants.length; k++) {
      const index = (first + k) % variants.length;
      // Collect the previous variant's garbage now, so nobody pays for another's allocations.
      gc();
      const start = process.hrtime.bigint();
      const pending = variants[index].run(iterations);
      // Only await real promises: an `await` on a sync result would add a microtask to every batch.
      if (pending && typeof pending.then === 'function') await pending;
      const elapsed = Number(process.hrtime.bigint() - start);
      if (round >= 0) perRound[index].push(elapsed / iterations);
    }
  }
  return variants.map((variant, i) => {
    const sorted = [...perRound[i]].sort((a, b) => a - b);
    return {
      name: variant.name,
      rounds: perRound[i],
      median: median(sorted),
      min: sorted[0],
      max: sorted[sorted.length - 1],
    };
  });
}

/**
 * Prints one table: median, spread over rounds, and the ratio of each median
 * to each reference variant's median (below 1 = faster than the reference).
 *
 * @param {string} title
 * @param {Result[]} results
 * @param {{ against?: string[], unit?: 'ns' | 'ms' }} [options]
 */
export function printTable(title, results, { against = [], unit = 'ns' } = {}) {
  const refs = against.map((name) => {
    const ref = results.find((r) => r.name === name);
    if (!ref) throw new Error(`printTable: no variant named "${name}"`);
    return ref;
  });
  const unitLabel = unit === 'ns' ? 'ns/op' : 'ms/op';
  const head = ['variant', `median ${unitLabel}`, 'min', 'max', ...refs.map((r) => `vs ${r.name}`)];
  const rows = results.map((r) => [
    r.name,
    formatTime(r.median, unit),
    formatTime(r.min, unit),
    formatTime(r.max, unit),
    ...refs.map((ref) => `${formatRatio(r.median / ref.median)}x`),
  ]);
  console.log(`\n${title}`);
  console.log(renderTable(head, rows));
}

/**
 * Prints a goal line. Returns whether it was met, for the caller's summary;
 * never throws and never changes the exit code.
 *
 * @param {string} label
 * @param {number} value
 * @param {number} limit inclusive upper bound
 * @param {string} unit
 */
export function goal(label, value, limit, unit) {
  const met = value <= limit;
  const margin = met
    ? `${formatRatio(limit / value)}x headroom`
    : `missed by ${formatValue(value - limit)} ${unit} (${formatRatio(value / limit)}x the goal)`;
  console.log(
    `  goal ${label} <= ${limit} ${unit}: ${formatValue(value)} ${unit} -> ${met ? 'MET' : 'NOT MET'}, ${margin}`,
  );
  return met;
}

/** @param {string[]} head @param {string[][]} rows */
export function renderTable(head, rows) {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  // Names left-aligned, numbers right-aligned: digits line up by their last place.
  const line = (cells) =>
    `  ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')}`;
  return [line(head), `  ${widths.map((w) => '-'.repeat(w)).join('  ')}`, ...rows.map(line)].join('\n');
}

/** ns -> a readable string in the table's unit. */
export function formatTime(ns, unit = 'ns') {
  return unit === 'ns' ? formatValue(ns) : formatValue(ns / 1e6);
}

/** Three significant digits, no exponent. */
export function formatValue(value) {
  if (value === 0) return '0';
  const digits = Math.max(0, 2 - Math.floor(Math.log10(Math.abs(value))));
  return value.toFixed(Math.min(digits, 3));
}

function formatRatio(value) {
  return formatValue(value);
}

/** Bytes -> MB (10^6), the unit the docs use. */
export function mb(bytes) {
  return bytes / 1e6;
}

/** Full collection, twice: the first pass can leave weak/finalizable objects for the second. */
export function settleHeap() {
  gc();
  gc();
}

/**
 * Everything a JS object graph can hold: the V8 heap plus ArrayBuffer backing
 * stores. Typed arrays over 64 bytes keep their data outside `heapUsed`, and a
 * histogram is mostly typed arrays, so `heapUsed` alone would flatter Keel.
 */
export function retainedBytes() {
  const m = process.memoryUsage();
  return { heap: m.heapUsed, buffers: m.arrayBuffers, total: m.heapUsed + m.arrayBuffers };
}

function median(sorted) {
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function envRounds(fallback) {
  const n = Number(process.env.BENCH_ROUNDS);
  return Number.isInteger(n) && n > 0 ? n : fallback;
}

/**
 * Deterministic PRNG (mulberry32), so every run benchmarks the same values.
 * @param {number} seed
 */
export function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * `count` latencies in ms, log-normal around `medianMs` (sigma 1: most between
 * a third and three times the median, a long right tail), as a request
 * latency distribution looks. `count` must be a power of two so callers can
 * index with a mask instead of a modulo.
 */
export function latencies(count, medianMs = 40, seed = 42) {
  if (count & (count - 1)) throw new Error('latencies: count must be a power of two');
  const next = random(seed);
  const values = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    // Box-Muller; 1 - u keeps log() away from 0.
    const z = Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
    values[i] = medianMs * Math.exp(z);
  }
  return values;
}

import { escapeLabelValue, isValidLabelValue, type LabelValue, OVERFLOW_LABEL } from './labels.js';
import { boundaryIndexOf, bucketOf, buildBoundaryIndex } from './sketch.js';
import { type Slot, WindowRing, WindowSummary } from './window.js';

export interface SignalDefinition {
  /** Dotted OpenTelemetry-style name, e.g. `http.server.request.duration`. */
  readonly name: string;
  readonly description: string;
  /** Unit samples are recorded in: `ms` is exported to Prometheus as seconds. */
  readonly unit: 'ms' | 's' | '1' | 'By';
  /** Label names in the order `record` takes their values. At most 4. */
  readonly labels: readonly string[];
  /** The label whose values get their own rolling window (route, fingerprint, page group). */
  readonly groupBy: string | undefined;
  /** Histogram boundaries, in `unit`, ascending. */
  readonly boundaries: readonly number[];
  /** Distinct label combinations kept; further ones share the overflow series. */
  readonly maxSeries: number;
  /** Distinct `groupBy` values kept; further ones share the overflow group. */
  readonly maxGroups: number;
  readonly maxLabelLength: number;
}

/** Cumulative (since start) per-series numbers, the Prometheus histogram. */
export class Series {
  readonly le: Float64Array;
  sum = 0;
  constructor(
    readonly labelValues: readonly string[],
    /** `name="value",...` pre-escaped once so scraping only concatenates. */
    readonly renderedLabels: string,
    readonly group: Group,
    boundaryCount: number,
  ) {
    this.le = new Float64Array(boundaryCount + 1);
  }
}

export class Group {
  readonly ring: WindowRing;
  constructor(
    readonly key: string,
    windowLength: number,
    boundaryCount: number,
  ) {
    this.ring = new WindowRing(windowLength, boundaryCount);
  }
}

type Node = Map<LabelValue, Node | Series>;

/**
 * A named measurement with labels. `record` is the hot path: a few map
 * lookups to find the series, two shifts to find the bucket, and increments
 * into preallocated arrays. It reads no clock and allocates nothing once a
 * series exists.
 */
export class Signal {
  readonly definition: SignalDefinition;
  readonly groups = new Map<string, Group>();
  readonly series: Series[] = [];
  /** Samples that fell into the overflow series because the cap was reached or a label was invalid. */
  overflowed = 0;
  /** Samples refused outright: negative, NaN or infinite. */
  rejected = 0;

  readonly #depth: number;
  readonly #root: Node | Series;
  readonly #boundaryTable: Int16Array;
  readonly #boundaries: readonly number[];
  readonly #groupIndex: number;
  readonly #windowLength: number;
  readonly #overflowSeries: Series;
  readonly #overflowGroup: Group;
  /** `7` and `"7"` are different map keys but the same Prometheus series; this keeps them one. */
  readonly #byRenderedLabels = new Map<string, Series>();

  constructor(definition: SignalDefinition, windowLength: number) {
    this.definition = definition;
    this.#depth = definition.labels.length;
    this.#boundaries = definition.boundaries;
    this.#boundaryTable = buildBoundaryIndex(definition.boundaries);
    this.#groupIndex = definition.groupBy === undefined ? -1 : definition.labels.indexOf(definition.groupBy);
    this.#windowLength = windowLength;
    this.#overflowGroup = new Group(OVERFLOW_LABEL, windowLength, definition.boundaries.length);
    this.#overflowSeries = this.#makeSeries(
      definition.labels.map(() => OVERFLOW_LABEL),
      this.#overflowGroup,
    );
    if (this.#depth === 0) {
      const only = this.#makeSeries([], this.#groupFor(''));
      this.series.push(only);
      this.#root = only;
    } else {
      this.#root = new Map();
    }
  }

  /**
   * Records one sample. `ok: false` marks a bad event (a 5xx, a failed query)
   * for error-rate and availability budgets. Label values follow the order of
   * `definition.labels`.
   */
  record(value: number, ok: boolean, a?: LabelValue, b?: LabelValue, c?: LabelValue, d?: LabelValue): void {
    // `!(value >= 0)` also catches NaN.
    if (!(value >= 0) || value === Number.POSITIVE_INFINITY) {
      this.rejected++;
      return;
    }
    this.#add(this.#depth === 0 ? (this.#root as Series) : this.#find(a, b, c, d), value, ok);
  }

  #add(series: Series, value: number, ok: boolean): void {
    const bucket = bucketOf(value);
    let boundary = this.#boundaryTable[bucket + 1]!;
    if (boundary < 0) boundary = boundaryIndexOf(this.#boundaries, value);
    series.le[boundary]!++;
    series.sum += value;
    series.group.ring.current.add(bucket, boundary, value, ok);
  }

  /**
   * Records one sample straight into the overflow series, for callers that
   * cap a label's values themselves (the vitals collector caps page groups).
   */
  recordOverflow(value: number, ok: boolean): void {
    if (!(value >= 0) || value === Number.POSITIVE_INFINITY) {
      this.rejected++;
      return;
    }
    this.overflowed++;
    this.#add(this.#overflowSeries, value, ok);
  }

  /** Closes the current interval of every group; returns nothing, readers use the rings. */
  rotate(onClosed?: (group: Group, slot: Slot) => void): void {
    for (const group of this.#allGroups()) {
      const closed = group.ring.rotate();
      onClosed?.(group, closed);
    }
  }

  /**
   * Totals over the last `slots` closed intervals, for one group or (no key)
   * all of them. `includeCurrent` adds the interval still being written.
   */
  summarize(into: WindowSummary, slots: number, groupKey?: string, includeCurrent = false): WindowSummary {
    into.clear();
    for (const group of this.#allGroups()) {
      if (groupKey !== undefined && group.key !== groupKey) continue;
      for (const slot of group.ring.closed(slots)) into.addSlot(slot);
      if (includeCurrent) into.addSlot(group.ring.current);
    }
    return into;
  }

  newSummary(): WindowSummary {
    return new WindowSummary(this.definition.boundaries.length);
  }

  *#allGroups(): Generator<Group> {
    yield* this.groups.values();
    yield this.#overflowGroup;
  }

  get seriesCount(): number {
    return this.series.length;
  }

  get overflowSeries(): Series {
    return this.#overflowSeries;
  }

  #find(a?: LabelValue, b?: LabelValue, c?: LabelValue, d?: LabelValue): Series {
    // Unrolled on purpose: a loop over a rest array would allocate per call.
    let next = (this.#root as Node).get(a as LabelValue);
    if (next === undefined) return this.#insert(a, b, c, d);
    if (this.#depth === 1) return next as Series;
    next = (next as Node).get(b as LabelValue);
    if (next === undefined) return this.#insert(a, b, c, d);
    if (this.#depth === 2) return next as Series;
    next = (next as Node).get(c as LabelValue);
    if (next === undefined) return this.#insert(a, b, c, d);
    if (this.#depth === 3) return next as Series;
    next = (next as Node).get(d as LabelValue);
    if (next === undefined) return this.#insert(a, b, c, d);
    return next as Series;
  }

  /** The slow path, once per distinct label combination (or per overflowing sample). */
  #insert(a?: LabelValue, b?: LabelValue, c?: LabelValue, d?: LabelValue): Series {
    // A label left out is an empty one (absent in Prometheus), so optional trailing labels can be omitted.
    const values = [a, b, c, d].slice(0, this.#depth).map((v) => v ?? '');
    const { maxLabelLength, maxSeries } = this.definition;
    if (this.series.length >= maxSeries || !values.every((v) => isValidLabelValue(v, maxLabelLength))) {
      this.overflowed++;
      return this.#overflowSeries;
    }
    const strings = values.map((v) => String(v));
    const group = this.#groupIndex < 0 ? this.#groupFor('') : this.#groupFor(strings[this.#groupIndex]!);
    const fresh = this.#makeSeries(strings, group);
    const existing = this.#byRenderedLabels.get(fresh.renderedLabels);
    const series = existing ?? fresh;
    // The tree is keyed by the values as given, `undefined` included: `#find` looks up what the
    // caller passed, and a label left out keyed as '' sent every such call down this slow path.
    const keys = [a, b, c, d];
    let node = this.#root as Node;
    for (let i = 0; i < this.#depth - 1; i++) {
      const key = keys[i] as LabelValue;
      let child = node.get(key) as Node | undefined;
      if (!child) {
        child = new Map();
        node.set(key, child);
      }
      node = child;
    }
    node.set(keys[this.#depth - 1] as LabelValue, series);
    if (!existing) {
      this.series.push(series);
      this.#byRenderedLabels.set(series.renderedLabels, series);
    }
    return series;
  }

  #groupFor(key: string): Group {
    let group = this.groups.get(key);
    if (group) return group;
    if (this.groups.size >= this.definition.maxGroups) return this.#overflowGroup;
    group = new Group(key, this.#windowLength, this.definition.boundaries.length);
    this.groups.set(key, group);
    return group;
  }

  #makeSeries(values: string[], group: Group): Series {
    // An empty value is an absent label in Prometheus: leaving it out keeps
    // optional labels (the HTTP signal's `keel_outcome`) off the common series.
    const rendered = this.definition.labels
      .flatMap((name, i) => (values[i] === '' ? [] : [`${name}="${escapeLabelValue(values[i]!)}"`]))
      .join(',');
    return new Series(values, rendered, group, this.definition.boundaries.length);
  }
}

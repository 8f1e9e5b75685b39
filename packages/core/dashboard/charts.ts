import uPlot from 'uplot';

/** Colours of the charts, read from the page's CSS so the dark theme applies to them too. */
function color(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#555';
}

/** A chart that follows its container's width. */
class Chart {
  readonly plot: uPlot;
  readonly #holder: HTMLElement;

  constructor(holder: HTMLElement, options: Omit<uPlot.Options, 'width'>, data: uPlot.AlignedData) {
    this.#holder = holder;
    this.plot = new uPlot({ ...options, width: this.#width() } as uPlot.Options, data, holder);
  }

  #width(): number {
    return Math.max(120, Math.floor(this.#holder.clientWidth || 280));
  }

  resize(): void {
    const width = this.#width();
    if (width !== this.plot.width) this.plot.setSize({ width, height: this.plot.height });
  }
}

const charts = new Set<Chart>();
let resizing = 0;
window.addEventListener('resize', () => {
  cancelAnimationFrame(resizing);
  resizing = requestAnimationFrame(() => {
    for (const c of charts) c.resize();
  });
});

/** Seconds, as uPlot's time scale wants them, from epoch milliseconds. */
const seconds = (at: number[]) => at.map((t) => t / 1000);

/**
 * A budget's value over the last hour with its target as a dashed line.
 * Drawn once, then given new data in place on every poll.
 */
export class Sparkline {
  readonly #chart: Chart;

  constructor(holder: HTMLElement, unit: string) {
    const line = color('--accent');
    this.#chart = new Chart(
      holder,
      {
        height: 56,
        cursor: { show: false },
        legend: { show: false },
        select: { show: false, left: 0, top: 0, width: 0, height: 0 },
        scales: {
          x: { time: true },
          y: { range: (_u, min, max) => [Math.min(0, min ?? 0), Math.max(1, (max ?? 1) * 1.1)] },
        },
        axes: [{ show: false }, { show: false }],
        series: [
          {},
          { label: unit, stroke: line, width: 2, spanGaps: false, points: { show: false } },
          { label: 'target', stroke: color('--muted'), width: 1, dash: [4, 4], points: { show: false } },
        ],
      },
      [[], [], []],
    );
    charts.add(this.#chart);
  }

  update(at: number[], values: (number | null)[], target: number): void {
    this.#chart.plot.setData([seconds(at), values, at.map(() => target)]);
  }
}

/** The health score over the last hour, 0 to 10, with the healthy line at 8. */
export class ScoreChart {
  readonly #chart: Chart;

  constructor(holder: HTMLElement) {
    const grid = { stroke: color('--grid'), width: 1 };
    const axis = { stroke: color('--muted'), grid, ticks: grid, font: '11px system-ui, sans-serif' };
    this.#chart = new Chart(
      holder,
      {
        height: 140,
        legend: { show: false },
        cursor: { y: false },
        select: { show: false, left: 0, top: 0, width: 0, height: 0 },
        scales: { x: { time: true }, y: { range: [0, 10] } },
        axes: [axis, { ...axis, size: 32, splits: () => [0, 2, 4, 6, 8, 10] }],
        series: [
          {},
          { label: 'score', stroke: color('--accent'), width: 2, points: { show: false } },
          { label: 'healthy (8)', stroke: color('--ok'), width: 1, dash: [4, 4], points: { show: false } },
        ],
      },
      [[], [], []],
    );
    charts.add(this.#chart);
  }

  update(at: number[], score: number[]): void {
    this.#chart.plot.setData([seconds(at), score, at.map(() => 8)]);
  }
}

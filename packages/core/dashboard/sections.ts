import { Sparkline } from './charts.js';
import { clock, flag, h, num, percent, replace, stateBadge, table } from './dom.js';
import type { BudgetJson, CapacityJson, DashboardData, HealthJson } from './types.js';

const HTTP_SIGNAL = 'http.server.request.duration';

/** The score, its status words, and what else decides whether this instance gets traffic. */
export function renderSummary(el: HTMLElement, health: HealthJson): void {
  const deps = health.dependencies.filter((d) => !d.ok);
  replace(
    el,
    h(
      'div',
      { class: 'score' },
      h('span', { class: 'score-value', 'data-field': 'score' }, num(health.score)),
      h('span', { class: 'score-scale' }, '/ 10'),
    ),
    h(
      'ul',
      { class: 'flags', 'aria-label': 'Status' },
      h(
        'li',
        null,
        h(
          'span',
          {
            class: `badge ${health.status === 'healthy' ? 'ok' : health.status === 'degraded' ? 'at_risk' : 'breached'}`,
            'data-field': 'status',
          },
          health.status,
        ),
      ),
      h('li', null, flag(health.stable, 'stable', 'not stable', 'stable')),
      h('li', null, flag(health.ready, 'ready', 'not ready', 'ready')),
      h('li', null, flag(!health.shedding.shedding, 'not shedding', 'shedding load', 'shedding')),
    ),
    health.readinessReasons.length > 0 &&
      h('p', { class: 'note' }, `Not ready: ${health.readinessReasons.join('; ')}`),
    deps.length > 0 &&
      h(
        'p',
        { class: 'note' },
        `Failing: ${deps.map((d) => `${d.name}${d.error ? ` (${d.error})` : ''}`).join(', ')}`,
      ),
    h(
      'p',
      { class: 'muted' },
      `Evaluated at ${clock(health.evaluatedAt)}`,
      health.stableSince ? ` · healthy since ${clock(health.stableSince)}` : '',
    ),
  );
}

/** What each component of the score costs, worst first. */
export function renderComponents(el: HTMLElement, health: HealthJson): void {
  const rows = [...health.components]
    .sort((a, b) => a.score - b.score)
    .map((c) => [
      c.name,
      h('span', { 'data-component': c.name }, num(c.score)),
      h('meter', {
        min: 0,
        max: 10,
        low: 7,
        high: 9,
        optimum: 10,
        value: c.score,
        'aria-label': `${c.name} ${c.score} of 10`,
      }),
      c.detail,
    ]);
  replace(el, table('Score breakdown', ['component', 'score', '', 'detail'], rows, 'components'));
}

/** One card per budget; each keeps its sparkline and gets new numbers in place. */
export class BudgetsView {
  readonly #el: HTMLElement;
  readonly #cards = new Map<
    string,
    { card: HTMLElement; head: HTMLElement; rates: HTMLElement; chart: Sparkline; holder: HTMLElement }
  >();

  constructor(el: HTMLElement) {
    this.#el = el;
  }

  render(data: DashboardData): void {
    const budgets = data.health.budgets;
    for (const name of [...this.#cards.keys()]) {
      if (!budgets.some((b) => b.name === name)) {
        this.#cards.get(name)!.card.remove();
        this.#cards.delete(name);
      }
    }
    for (const b of budgets) {
      let entry = this.#cards.get(b.name);
      if (!entry) {
        const head = h('div', null);
        const holder = h('div', { class: 'spark', role: 'img' });
        const rates = h('div', null);
        const card = h('article', { class: 'card budget', 'data-budget': b.name }, head, holder, rates);
        this.#el.append(card);
        entry = { card, head, rates, holder, chart: new Sparkline(holder, b.unit) };
        this.#cards.set(b.name, entry);
      }
      entry.card.className = `card budget ${b.state}`;
      renderBudget(entry.head, b);
      renderBurnRates(entry.rates, b);
      const history = data.history.budgets[b.name];
      if (history) {
        entry.chart.update(data.history.at, history.value, b.target);
        entry.holder.setAttribute('aria-label', sparkLabel(b, history.value));
      }
    }
  }
}

function renderBudget(el: HTMLElement, b: BudgetJson): void {
  const used = b.errorBudgetUsed;
  const left =
    used === null ? '–' : used >= 1 ? `none (used ${Math.round(used * 100) / 100}×)` : percent(1 - used);
  replace(
    el,
    h('h3', null, b.name, ' ', stateBadge(b.state)),
    h('p', { class: 'muted' }, b.description),
    h(
      'dl',
      { class: 'numbers' },
      h('div', null, h('dt', null, 'value'), h('dd', { 'data-field': 'value' }, num(b.value, b.unit))),
      h('div', null, h('dt', null, 'target'), h('dd', { 'data-field': 'target' }, num(b.target, b.unit))),
      h('div', null, h('dt', null, 'error budget left'), h('dd', { 'data-field': 'errorBudgetLeft' }, left)),
      h('div', null, h('dt', null, 'samples'), h('dd', { 'data-field': 'samples' }, num(b.samples))),
    ),
  );
}

function renderBurnRates(el: HTMLElement, b: BudgetJson): void {
  replace(
    el,
    b.burnRates.length > 0 &&
      table(
        `${b.name} burn rates`,
        ['windows', 'short', 'long', 'alert at', ''],
        b.burnRates.map((r) => [
          r.windows,
          h('span', { 'data-burn': `${r.windows}:short` }, num(r.short)),
          h('span', { 'data-burn': `${r.windows}:long` }, num(r.long)),
          `${r.factor}×`,
          r.alerting ? h('span', { class: 'badge breached' }, 'alerting') : 'quiet',
        ]),
        `burn-${b.name}`,
      ),
  );
}

function sparkLabel(b: BudgetJson, values: (number | null)[]): string {
  const known = values.filter((v): v is number => v !== null);
  if (known.length === 0) return `${b.name}: no values in the last hour yet`;
  return `${b.name} over the last hour: from ${Math.min(...known)} to ${Math.max(...known)} ${b.unit}, target ${b.target} ${b.unit}, now ${num(b.value, b.unit)}`;
}

/** Per-route latency (from the HTTP signal) and traffic (from the capacity model). */
export function renderRoutes(el: HTMLElement, health: HealthJson): void {
  const http = health.signals.find((s) => s.name === HTTP_SIGNAL);
  const traffic = new Map((health.capacity?.routes ?? []).map((r) => [r.route, r]));
  const routes = http?.top ?? [];
  if (routes.length === 0) {
    replace(el, h('p', { class: 'muted' }, 'No requests in the window yet.'));
    return;
  }
  replace(
    el,
    table(
      'Routes by time consumed',
      ['route', 'requests', 'req/s', 'p50', 'p95', 'p99', 'errors'],
      routes.map((r) => [
        r.group,
        h('span', { 'data-route': `${r.group}:samples` }, num(r.samples)),
        num(traffic.get(r.group)?.rps),
        num(r.p50, http!.unit),
        h('span', { 'data-route': `${r.group}:p95` }, num(r.p95, http!.unit)),
        num(r.p99, http!.unit),
        percent(r.errorRatio),
      ]),
      'routes',
    ),
  );
}

/** What one instance serves, what the traffic needs, and what it costs. */
export function renderCapacity(el: HTMLElement, capacity: CapacityJson | null | undefined): void {
  if (!capacity) {
    replace(el, h('p', { class: 'muted' }, 'No capacity section in /health.'));
    return;
  }
  const c = capacity;
  const money = (v: number | null) =>
    c.cost && v !== null ? `${v.toFixed(2)} ${c.cost.currency}/month` : '–';
  const item = (label: string, key: string, value: string) =>
    h('div', null, h('dt', null, label), h('dd', { 'data-capacity': key }, value));
  replace(
    el,
    h('p', { class: 'advice', 'data-capacity': 'advice' }, c.advice),
    h(
      'dl',
      { class: 'numbers' },
      item('traffic now', 'rps', `${c.rps} req/s`),
      item(
        `one instance at ${Math.round(c.targetUtilization * 100)} %`,
        'rpsPerInstance',
        num(c.rpsPerInstance, 'req/s'),
      ),
      item('headroom', 'headroomRps', num(c.headroomRps, 'req/s')),
      item('limited by', 'limitedBy', c.limitedBy?.replace('_', ' ') ?? '–'),
      item('instances running', 'instances', String(c.instances)),
      item('instances needed', 'instancesNeeded', num(c.instancesNeeded)),
      item('cost now', 'monthlyNow', money(c.cost?.monthlyNow ?? null)),
      item('cost needed', 'monthlyNeeded', money(c.cost?.monthlyNeeded ?? null)),
      item('CPU per request', 'cpuMsPerRequest', num(c.cpuMsPerRequest, 'ms')),
      item('event loop per request', 'busyMsPerRequest', num(c.busyMsPerRequest, 'ms')),
      item('event loop busy', 'eventLoopUtilization', percent(c.eventLoopUtilization)),
      item('CPU cores in use', 'cpuCores', String(c.cpuCores)),
    ),
    h('p', { class: 'muted' }, `Measured over the last ${c.windowSeconds} s (${c.requests} requests).`),
  );
}

import type { OptimiseStatus } from '../src/optimise/optimise-status.js';
import { clock, field, h, list, replace, table, text } from './dom.js';

// The sections other packages add to /health, read by shape rather than by type: the page must
// keep working with a monitor older or newer than itself, or with none.

const score = (v: unknown) => (typeof v === 'number' ? String(v) : '–');

/** Open incidents, each with its timeline and the actions taken with their measured effect. */
export function renderIncidents(el: HTMLElement, incidents: unknown): void {
  const open = list(incidents, 'open');
  if (incidents === undefined || incidents === null) {
    replace(el, h('p', { class: 'muted' }, 'No incident tracking (the monitor is not running).'));
    return;
  }
  if (open.length === 0) {
    replace(el, h('p', { 'data-field': 'no-incidents' }, 'No open incidents.'));
    return;
  }
  replace(
    el,
    open.map((incident) => {
      const id = text(field(incident, 'id')) ?? '';
      const timeline = list(incident, 'timeline');
      const actions = list(incident, 'actions');
      return h(
        'details',
        { class: 'card incident', open: true, 'data-incident': id },
        h(
          'summary',
          { 'data-key': `incident-${id}` },
          h('span', { class: 'badge breached' }, text(field(incident, 'severity')) ?? 'incident'),
          ' ',
          text(field(incident, 'title')) ?? id,
          h('span', { class: 'muted' }, ` · opened ${clock(text(field(incident, 'openedAt')))}`),
        ),
        h(
          'ol',
          { class: 'timeline', 'aria-label': 'Timeline' },
          timeline.map((e) =>
            h(
              'li',
              null,
              h('time', null, clock(text(field(e, 'at')))),
              ' ',
              h('strong', null, text(field(e, 'kind')) ?? ''),
              ' ',
              text(field(e, 'detail')) ?? '',
            ),
          ),
        ),
        actions.length > 0 &&
          table(
            'Actions taken',
            ['mitigation', 'outcome', 'score before → after', 'why'],
            actions.map((a) => [
              text(field(a, 'mitigation')) ?? '',
              text(field(a, 'outcome')) ?? '',
              `${score(field(a, 'scoreBefore'))} → ${score(field(a, 'scoreAfter'))}`,
              text(field(a, 'reason')) ?? '',
            ]),
            `actions-${id}`,
          ),
      );
    }),
  );
}

/** The monitor's last steps (applied, kept, rolled back...) with the score before and after. */
export function renderMonitor(el: HTMLElement, monitor: unknown): void {
  if (monitor === undefined || monitor === null) {
    replace(el, h('p', { class: 'muted' }, 'The monitor is not running.'));
    return;
  }
  const steps = list(monitor, 'recentSteps').filter((s) => field(s, 'mitigation') !== null);
  const active = list(monitor, 'active').map(text).filter(Boolean);
  replace(
    el,
    h(
      'p',
      null,
      active.length > 0 ? `Active: ${active.join(', ')}` : 'No mitigation active.',
      field(monitor, 'dryRun') === true ? ' (dry run: nothing is applied)' : '',
    ),
    steps.length === 0
      ? h('p', { class: 'muted' }, 'No action taken yet.')
      : table(
          'Last actions',
          ['mitigation', 'step', 'at', 'score before → after', 'detail'],
          steps
            .slice(-10)
            .reverse()
            .map((s) => [
              text(field(s, 'mitigation')) ?? '',
              text(field(s, 'kind')) ?? '',
              clock(text(field(s, 'at'))),
              `${score(field(s, 'scoreBefore'))} → ${score(field(s, 'scoreAfter'))}`,
              text(field(s, 'detail')) ?? '',
            ]),
          'monitor-steps',
        ),
  );
}

/**
 * The optimisation loop's latest ranked bottlenecks with their fixes and what each costs or
 * saves. The loop is core's own, so its `/health` section is read by its type.
 */
export function renderOptimise(el: HTMLElement, optimise: OptimiseStatus | null | undefined): boolean {
  if (!optimise) return false;
  const state =
    optimise.state === 'idle'
      ? null
      : h('p', { 'data-field': 'optimise-state' }, `${optimise.state}: ${optimise.capture?.reason ?? ''}`);
  const top = optimise.latest?.top ?? [];
  if (top.length === 0) {
    replace(el, [
      state,
      h(
        'p',
        { class: 'muted' },
        optimise.latest
          ? `No bottleneck in the last capture (${optimise.latest.requests} requests).`
          : `No capture yet: one starts when a route's p95 passes ${optimise.triggerMs} ms.`,
      ),
    ]);
    return true;
  }
  replace(el, [
    state,
    h(
      'ol',
      { class: 'bottlenecks' },
      top.map((b, i) =>
        h(
          'li',
          { class: 'card', 'data-bottleneck': i },
          h('strong', null, b.title),
          describe(
            'impact',
            `${b.userSecondsPerMinute} user-seconds per minute${b.route ? ` on ${b.route}` : ''}`,
          ),
          describe('effort', b.effort),
          describe('fix', b.fix),
          describe('cost', b.cost),
        ),
      ),
    ),
  ]);
  return true;
}

function describe(label: string, value: unknown): HTMLElement | null {
  if (value === undefined || value === null) return null;
  let shown = text(value);
  if (shown === null && typeof value === 'object') {
    shown = Object.entries(value as Record<string, unknown>)
      .map(([k, v]) => [k, text(v)] as const)
      .filter(([, v]) => v !== null)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
  }
  return shown
    ? h(
        'p',
        { 'data-field': label },
        h('span', { class: 'muted' }, `${label}: `),
        h(label === 'fix' ? 'code' : 'span', null, shown),
      )
    : null;
}

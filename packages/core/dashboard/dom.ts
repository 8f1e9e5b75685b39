import type { BudgetState } from './types.js';

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | null | undefined>;

/** Builds an element: attributes (`null`/`false` left out), then children (text is escaped by the DOM). */
export function h(tag: string, attrs: Attrs | null, ...children: (Child | Child[])[]): HTMLElement {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [name, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      el.setAttribute(name, value === true ? '' : String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/** Replaces a container's content, keeping keyboard focus on the element with the same `data-key`. */
export function replace(container: HTMLElement, ...children: (Child | Child[])[]): void {
  const focused = document.activeElement;
  const key = focused instanceof HTMLElement && container.contains(focused) ? focused.dataset.key : undefined;
  container.replaceChildren(
    ...(children.flat().filter((c) => c !== null && c !== undefined && c !== false) as (Node | string)[]).map(
      (c) => (typeof c === 'number' ? String(c) : c),
    ),
  );
  if (key) container.querySelector<HTMLElement>(`[data-key="${CSS.escape(key)}"]`)?.focus();
}

const STATE_TEXT: Record<BudgetState, [label: string, mark: string]> = {
  ok: ['OK', '✓'],
  at_risk: ['At risk', '!'],
  breached: ['Breached', '✕'],
  no_data: ['No data', '–'],
};

/** A state as colour, a mark and words: readable without colour. */
export function stateBadge(state: BudgetState): HTMLElement {
  const [label, mark] = STATE_TEXT[state] ?? [state, '?'];
  return h(
    'span',
    { class: `badge ${state}`, 'data-state': state },
    h('span', { 'aria-hidden': 'true' }, mark),
    ` ${label}`,
  );
}

/** A yes/no status as a badge: `good` picks the colour, the words say it. */
export function flag(good: boolean, yes: string, no: string, field?: string): HTMLElement {
  return h('span', { class: `badge ${good ? 'ok' : 'breached'}`, 'data-field': field }, good ? yes : no);
}

/** A number as `/health` has it (already rounded there) with its unit (none for `1`), or a dash. */
export function num(value: number | null | undefined, unit = ''): string {
  if (value === null || value === undefined || Number.isNaN(value)) return '–';
  return unit && unit !== '1' ? `${value} ${unit}` : String(value);
}

/** A 0..1 ratio as a percentage with at most one decimal. */
export function percent(ratio: number | null | undefined): string {
  if (ratio === null || ratio === undefined) return '–';
  return `${Math.round(ratio * 1000) / 10} %`;
}

/** A time as the reader's local clock time. */
export function clock(iso: string | number | null | undefined): string {
  if (iso === null || iso === undefined) return '–';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleTimeString();
}

/** A table that scrolls sideways on a narrow screen (and by keyboard: it takes focus). */
export function table(
  caption: string,
  head: string[],
  rows: (Child | Child[])[][],
  key?: string,
): HTMLElement {
  return h(
    'div',
    { class: 'scroll', tabindex: 0, role: 'region', 'aria-label': caption, 'data-key': key },
    h(
      'table',
      null,
      h('caption', { class: 'sr-only' }, caption),
      h(
        'thead',
        null,
        h(
          'tr',
          null,
          head.map((c) => h('th', { scope: 'col' }, c)),
        ),
      ),
      h(
        'tbody',
        null,
        rows.map((r) =>
          h(
            'tr',
            null,
            r.map((c, i) => (i === 0 ? h('th', { scope: 'row' }, c) : h('td', null, c))),
          ),
        ),
      ),
    ),
  );
}

/** Reads a field of an object of unknown shape. */
export function field(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}

/** An array field of an object of unknown shape (`[]` if absent). */
export function list(value: unknown, key: string): unknown[] {
  const v = field(value, key);
  return Array.isArray(v) ? v : [];
}

/** A field as display text: strings and numbers as they are, anything else left out. */
export function text(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return null;
}

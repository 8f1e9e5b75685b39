import { renderIncidents, renderMonitor, renderOptimise } from './activity.js';
import { ScoreChart } from './charts.js';
import { BudgetsView, renderCapacity, renderComponents, renderRoutes, renderSummary } from './sections.js';
import type { DashboardData } from './types.js';

// The page: asks `GET <this path>` with `Accept: application/json` about once per Keel interval
// and redraws what changed. Nothing here runs in the app: the data is what Keel already computed.

const TOKEN_KEY = 'keel.token';
const MIN_POLL = 1000;
const MAX_POLL = 5000;
const MAX_BACKOFF = 10_000;

const $ = (id: string) => document.getElementById(id) as HTMLElement;

const live = $('live');
const ago = $('ago');
const login = $('login') as HTMLFormElement;
const budgets = new BudgetsView($('budgets'));
const scoreChart = new ScoreChart($('score-chart'));
const drawn = new Map<string, string>();
let lastOk = 0;
let backoff = MIN_POLL;
let timer = 0;

/** A token from `#token=...` (never sent to a server, so never in its logs) moves to session storage. */
function takeFragmentToken(): void {
  const match = /^#token=(.+)$/.exec(location.hash);
  if (!match) return;
  sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1]!));
  history.replaceState(null, '', location.pathname + location.search);
}

function setLive(text: string, state: 'ok' | 'lost' | 'auth'): void {
  // Only changes are announced: the live region is not rewritten on every poll.
  if (live.textContent === text) return;
  live.textContent = text;
  live.dataset.state = state;
}

/** Redraws a section only when its part of the data changed, so focus and scroll stay put. */
function section(key: string, value: unknown, draw: () => void): void {
  const json = JSON.stringify(value) ?? 'undefined';
  if (drawn.get(key) === json) return;
  drawn.set(key, json);
  draw();
}

function render(data: DashboardData): void {
  const h = data.health;
  document.title = `${h.score} ${h.status} · ${h.service} · Keel`;
  $('service').textContent = h.service;
  section(
    'summary',
    [
      h.score,
      h.status,
      h.stable,
      h.ready,
      h.shedding.shedding,
      h.readinessReasons,
      h.dependencies,
      h.evaluatedAt,
    ],
    () => renderSummary($('summary'), h),
  );
  section('history', data.history.at.at(-1), () => scoreChart.update(data.history.at, data.history.score));
  section('components', h.components, () => renderComponents($('components'), h));
  section('budgets', [h.budgets, data.history.at.at(-1)], () => budgets.render(data));
  section('incidents', h.incidents, () => renderIncidents($('incidents'), h.incidents));
  section('optimise', h.optimise, () => {
    $('optimise-section').hidden = !renderOptimise($('optimise'), h.optimise);
  });
  section('capacity', h.capacity, () => renderCapacity($('capacity'), h.capacity));
  section('routes', [h.signals, h.capacity?.routes], () => renderRoutes($('routes'), h));
  section('monitor', h.monitor, () => renderMonitor($('monitor'), h.monitor));
}

async function poll(): Promise<void> {
  timer = 0;
  const headers: Record<string, string> = { accept: 'application/json' };
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.authorization = `Bearer ${token}`;
  try {
    const res = await fetch(location.pathname, { headers, cache: 'no-store' });
    if (res.status === 401) {
      sessionStorage.removeItem(TOKEN_KEY);
      login.hidden = false;
      setLive('This dashboard needs the endpoint token.', 'auth');
      // No retry loop against a refused token: the form starts polling again.
      return;
    }
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const data = (await res.json()) as DashboardData;
    login.hidden = true;
    render(data);
    lastOk = Date.now();
    setLive('Live', 'ok');
    backoff = Math.min(MAX_POLL, Math.max(MIN_POLL, data.interval));
  } catch (error) {
    setLive(`Connection lost (${error instanceof Error ? error.message : 'error'}); retrying.`, 'lost');
    backoff = Math.min(MAX_BACKOFF, backoff * 2);
  }
  timer = window.setTimeout(poll, backoff);
}

login.addEventListener('submit', (event) => {
  event.preventDefault();
  const input = login.elements.namedItem('token') as HTMLInputElement;
  if (input.value) sessionStorage.setItem(TOKEN_KEY, input.value);
  input.value = '';
  if (timer) clearTimeout(timer);
  void poll();
});

setInterval(() => {
  ago.textContent = lastOk ? `updated ${Math.round((Date.now() - lastOk) / 1000)} s ago` : '';
}, 1000);

takeFragmentToken();
void poll();

// What the page reads from `GET /keel` (Accept: application/json): `/health`'s JSON, the
// history and the interval. Only the fields the page shows are typed; sections other packages
// add (`monitor`, `incidents`) are read defensively, since they may be absent or older; the
// optimiser's section is core's own, typed.
import type { OptimiseStatus } from '../src/optimise/optimise-status.js';

export type BudgetState = 'ok' | 'at_risk' | 'breached' | 'no_data';

export interface BurnRateJson {
  windows: string;
  short: number | null;
  long: number | null;
  factor: number;
  alerting: boolean;
}

export interface BudgetJson {
  name: string;
  description: string;
  state: BudgetState;
  since: string | null;
  value: number | null;
  target: number;
  unit: string;
  samples: number;
  errorBudgetUsed: number | null;
  burnRates: BurnRateJson[];
}

export interface GroupJson {
  group: string;
  samples: number;
  errorRatio: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

export interface SignalJson {
  name: string;
  unit: string;
  top: GroupJson[];
}

export interface CapacityJson {
  windowSeconds: number;
  requests: number;
  rps: number;
  cpuMsPerRequest: number | null;
  busyMsPerRequest: number | null;
  cpuCores: number;
  eventLoopUtilization: number;
  targetUtilization: number;
  rpsPerInstance: number | null;
  limitedBy: string | null;
  headroomRps: number | null;
  instances: number;
  instancesNeeded: number | null;
  routes: { route: string; requests: number; rps: number; share: number }[];
  cost: {
    currency: string;
    instanceHourly: number;
    monthlyNow: number | null;
    monthlyNeeded: number | null;
  } | null;
  advice: string;
}

export interface HealthJson {
  service: string;
  status: string;
  score: number;
  healthy: boolean;
  stable: boolean;
  stableSince: string | null;
  ready: boolean;
  readinessReasons: string[];
  budgets: BudgetJson[];
  components: { name: string; score: number; detail: string }[];
  dependencies: { name: string; ok: boolean; critical: boolean; error?: string | null }[];
  signals: SignalJson[];
  shedding: { shedding: boolean; shed: number };
  evaluatedAt: string;
  capacity?: CapacityJson | null;
  monitor?: unknown;
  incidents?: unknown;
  optimise?: OptimiseStatus | null;
}

export interface HistoryJson {
  at: number[];
  score: number[];
  budgets: Record<string, { value: (number | null)[]; state: BudgetState[] }>;
}

export interface DashboardData {
  interval: number;
  history: HistoryJson;
  health: HealthJson;
}

import type { Command } from '../cli/command.js';
import { grafanaDashboard } from '../dashboard/grafana.js';

export const dashboard: Command = {
  name: 'dashboard',
  summary: 'a Grafana dashboard: score, budget states, burn rates, error budget left, per-route latency',
  synopsis: '[--grafana] [common options]',
  defaultOut: 'deploy/grafana',
  options: { grafana: { type: 'boolean' } },
  help: `
Writes <service>-keel.json, a Grafana dashboard (built with
@grafana/grafana-foundation-sdk) over what Keel exports and \`keel rules\`
records: the health score, each budget's state, its burn rate per recorded
window, the error budget remaining over prometheus.period, and latency per
route. Import it in Grafana and pick the Prometheus data source.

  --grafana   Grafana's dashboard JSON (the default, and the only format so far)

--json result: { uid, title, panels: [{ title, queries: string[] }] }`,
  async run(context) {
    const { resolved } = await context.config();
    const built = grafanaDashboard(resolved);
    const panels = (built.panels ?? [])
      .map((p) => p as { type?: string; title?: string; targets?: { expr?: string }[] })
      .filter((p) => p.type !== 'row')
      .map((p) => ({ title: p.title ?? '', queries: (p.targets ?? []).map((t) => t.expr ?? '') }));
    return {
      files: [{ path: `${resolved.keel.service}-keel.json`, content: `${JSON.stringify(built, null, 2)}\n` }],
      data: { uid: built.uid, title: built.title, panels },
      text: `${panels.length} panels, uid ${built.uid}`,
    };
  },
};

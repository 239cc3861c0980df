import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { parser } from '@prometheus-io/lezer-promql';
import { GatewayMetrics, METRIC_NAMES, SupervisorMetrics } from '../../../src/observe/index.js';

/** The Grafana dashboard shipped in deploy/grafana: valid JSON, valid PromQL, and only series Airlock exports. */
const path = fileURLToPath(new URL('../../../../deploy/grafana/airlock-dashboard.json', import.meta.url));

interface Panel {
  title: string;
  type: string;
  targets?: { expr: string; refId: string }[];
}

/** Every series name the gateway and the supervisor export, with the labels of each. */
function exported(): Map<string, Set<string>> {
  const gateway = new GatewayMetrics({ connections: () => 0, sessions: () => 0, rules: () => 0 });
  const supervisor = new SupervisorMetrics();
  const names = new Map<string, Set<string>>();
  for (const registry of [gateway.registry, supervisor.registry]) {
    for (const metric of registry.getMetricsAsArray()) {
      const { name, labelNames, type } = metric as unknown as {
        name: string;
        labelNames: string[];
        type: string;
      };
      if (type === 'histogram') {
        names.set(`${name}_bucket`, new Set([...labelNames, 'le']));
        names.set(`${name}_sum`, new Set(labelNames));
        names.set(`${name}_count`, new Set(labelNames));
      } else names.set(name, new Set(labelNames));
    }
  }
  return names;
}

interface Parsed {
  readonly metrics: string[];
  readonly grouping: string[];
  readonly matchers: string[];
  readonly errors: number;
}

function parsePromql(expr: string): Parsed {
  const out: Parsed = { metrics: [], grouping: [], matchers: [], errors: 0 };
  const tree = parser.parse(expr);
  tree.iterate({
    enter(node) {
      if (node.type.isError) (out as { errors: number }).errors++;
      const text = expr.slice(node.from, node.to);
      if (node.name === 'Identifier' && node.node.parent?.name === 'VectorSelector') out.metrics.push(text);
      if (node.name === 'LabelName' && node.node.parent?.name === 'GroupingLabels') out.grouping.push(text);
      if (node.name === 'LabelName' && node.node.parent?.name === 'UnquotedLabelMatcher')
        out.matchers.push(text);
    },
  });
  return out;
}

describe('deploy/grafana/airlock-dashboard.json', () => {
  const dashboard = JSON.parse(readFileSync(path, 'utf8')) as { uid: string; title: string; panels: Panel[] };
  const names = exported();
  const targets = dashboard.panels.flatMap((p) =>
    (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })),
  );

  test('is a dashboard with panels, each with a query', () => {
    assert.equal(dashboard.uid, 'airlock-gateway');
    assert.ok(dashboard.panels.length >= 10);
    for (const panel of dashboard.panels) assert.ok((panel.targets ?? []).length > 0, panel.title);
  });

  for (const { panel, expr } of targets) {
    test(`${panel}: ${expr}`, () => {
      const parsed = parsePromql(expr);
      assert.equal(parsed.errors, 0, 'valid PromQL');
      assert.ok(parsed.metrics.length > 0, 'names a metric');
      for (const metric of parsed.metrics)
        assert.ok(names.has(metric), `${metric} is a series Airlock exports`);
      const labels = new Set(['job', 'instance', ...parsed.metrics.flatMap((m) => [...names.get(m)!])]);
      for (const label of [...parsed.grouping, ...parsed.matchers])
        assert.ok(labels.has(label), `label "${label}" exists on ${parsed.metrics.join(', ')}`);
    });
  }

  test('shows the operator-view series: services, setup and connect times, DNS answers, open tunnels, reloads', () => {
    const used = new Set(
      targets.flatMap((t) => parsePromql(t.expr).metrics.map((m) => m.replace(/_(bucket|sum|count)$/, ''))),
    );
    for (const name of [
      METRIC_NAMES.serviceRequests,
      METRIC_NAMES.serviceFailures,
      METRIC_NAMES.tunnelsOpen,
      METRIC_NAMES.connectSetup,
      METRIC_NAMES.upstreamConnect,
      METRIC_NAMES.dnsAnswers,
      METRIC_NAMES.lastReload,
      METRIC_NAMES.lastReloadSuccess,
    ])
      assert.ok(used.has(name), name);
  });
});

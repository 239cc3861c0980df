import { componentsFor, type ComponentDefinition, type ComponentId } from './components.js';
import { DISAGREEMENTS, otherReading, type DisagreementId, type Readings } from './disagreements.js';
import type {
  Alternative,
  ComponentVerdict,
  Explanation,
  PolicyCheck,
  ReadingSummary,
  Verdict,
} from './explanation.js';
import { normalizeMachine, proxyFacts, type Machine } from './machine.js';
import type { MachineDescription } from './machine-schema.js';
import { describeRoute, resolveRoute } from './resolve-route.js';
import { citedSource, type CitedSource, type SourceId } from './sources.js';
import {
  ADJUSTMENTS,
  VERDICT_RULES,
  recommendedProxy,
  type Judgement,
  type RuleContext,
} from './verdict-rules.js';

export interface ExplainOptions {
  /** Readings to assume, overriding the defaults and the description's `assume:`. */
  readonly readings?: Partial<Readings>;
  /** Checks each destination a proxy route needs against an allowlist (an Airlock policy). */
  readonly policyCheck?: PolicyCheck;
  /** Parser warnings to carry into the explanation. */
  readonly warnings?: readonly string[];
}

interface Evaluated {
  readonly verdict: ComponentVerdict;
  readonly used: ReadonlySet<DisagreementId>;
  readonly undescribedProxy: string | null;
}

function evaluateComponent(
  component: ComponentDefinition,
  machine: Machine,
  peer: (id: ComponentId) => ComponentVerdict | undefined,
  policyCheck: PolicyCheck | undefined,
): Evaluated {
  const used = new Set<DisagreementId>();
  const reading = (id: DisagreementId): string => {
    used.add(id);
    return machine.readings[id];
  };
  const route = resolveRoute(component, machine, reading);
  const routeText = describeRoute(route);
  const facts = route.kind === 'proxy' && route.proxy !== null ? proxyFacts(machine, route.proxy) : null;
  const bypassed = new Set(route.bypassed.map((b) => b.host));
  const denials =
    facts !== null && facts.policyChecked && policyCheck
      ? component
          .endpoints(machine)
          .filter((e) => !bypassed.has(e.host))
          .map((endpoint) => ({ endpoint, decision: policyCheck(endpoint.host, endpoint.port) }))
          .filter((d) => !d.decision.allowed)
          .map((d) => ({ endpoint: d.endpoint, reason: d.decision.reason }))
      : [];
  const ctx: RuleContext = {
    component,
    machine,
    route,
    routeText,
    facts,
    denials,
    recommended: recommendedProxy(machine),
    reading,
    peer,
  };
  const rule = VERDICT_RULES.find((r) => r.when(ctx));
  if (!rule) throw new Error('the last verdict rule always applies');
  let judgement: Judgement = {
    verdict: rule.verdict,
    reason: rule.reason(ctx),
    fix: rule.fix(ctx),
    rule: rule.id,
    sources: [...rule.sources(ctx)],
    notes: [],
  };
  for (const adjustment of ADJUSTMENTS) {
    if (adjustment.components !== 'all' && !adjustment.components.includes(component.id)) continue;
    judgement = adjustment.apply(ctx, judgement) ?? judgement;
  }
  const sources = [...new Set<SourceId>(judgement.sources)];
  return {
    verdict: {
      component: component.id,
      name: component.name,
      context: component.context,
      route,
      routeText,
      verdict: judgement.verdict,
      reason: capitalize(judgement.reason),
      fix: judgement.fix,
      rule: judgement.rule,
      sources,
      readings: [...used].map((id) => ({ disagreement: id, reading: machine.readings[id] })),
      alternatives: [],
      notes: judgement.notes.map(capitalize),
    },
    used,
    undescribedProxy: facts !== null && !facts.described ? facts.address : null,
  };
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** Evaluates every component; revocation first, because cloud protection depends on it. */
function evaluateAll(machine: Machine, policyCheck: PolicyCheck | undefined): Map<ComponentId, Evaluated> {
  const components = componentsFor(machine);
  const order = [
    ...components.filter((c) => c.id === 'certificate-revocation'),
    ...components.filter((c) => c.id !== 'certificate-revocation'),
  ];
  const results = new Map<ComponentId, Evaluated>();
  for (const component of order) {
    const peer = (id: ComponentId) => results.get(id)?.verdict;
    results.set(component.id, evaluateComponent(component, machine, peer, policyCheck));
  }
  const inTableOrder = new Map<ComponentId, Evaluated>();
  for (const c of components) {
    const result = results.get(c.id);
    if (result) inTableOrder.set(c.id, result);
  }
  return inTableOrder;
}

/**
 * The advisor's entry point for a machine description: the route each component takes, whether
 * it works, why, and what to change. Pure; a refused destination is a verdict, not an exception.
 */
export function explainMachine(description: MachineDescription, options: ExplainOptions = {}): Explanation {
  const { machine, assumptions } = normalizeMachine(description, options.readings);
  const results = evaluateAll(machine, options.policyCheck);

  const flipped = new Map<DisagreementId, Map<ComponentId, Evaluated>>();
  for (const d of DISAGREEMENTS) {
    const readings = { ...machine.readings, [d.id]: otherReading(d.id, machine.readings[d.id]) };
    flipped.set(d.id, evaluateAll({ ...machine, readings }, options.policyCheck));
  }

  const components: ComponentVerdict[] = [];
  const allAssumptions = [...assumptions];
  for (const [id, result] of results) {
    const alternatives: Alternative[] = [];
    for (const d of result.used) {
      const other = flipped.get(d)?.get(id)?.verdict;
      if (
        other &&
        (other.verdict !== result.verdict.verdict || other.routeText !== result.verdict.routeText)
      ) {
        alternatives.push({
          disagreement: d,
          reading: otherReading(d, machine.readings[d]),
          route: other.routeText,
          verdict: other.verdict,
          reason: other.reason,
        });
      }
    }
    components.push({ ...result.verdict, alternatives });
    const proxy = result.undescribedProxy;
    if (proxy !== null) {
      const text = `proxy ${proxy} is not described under network.proxies: assumed reachable, unauthenticated, not inspecting TLS and allowing the agent URLs.`;
      if (!allAssumptions.includes(text)) allAssumptions.push(text);
    }
  }
  if (options.policyCheck) {
    allAssumptions.push(
      `destinations for the policy check are those of geography "${machine.geography}" with ${machine.connectivity} connectivity.`,
    );
  }

  const readings: ReadingSummary[] = DISAGREEMENTS.map((d) => {
    const assumed = machine.readings[d.id];
    const other = otherReading(d.id, assumed);
    const find = (value: string) => d.readings.find((r) => r.value === value);
    return {
      id: d.id,
      question: d.question,
      assumed,
      assumedMeaning: find(assumed)?.meaning ?? '',
      assumedSources: [...(find(assumed)?.sources ?? [])],
      assumedObserved: find(assumed)?.observed === true,
      other,
      otherMeaning: find(other)?.meaning ?? '',
      otherSources: [...(find(other)?.sources ?? [])],
      otherObserved: find(other)?.observed === true,
      affects: components
        .filter((c) => c.readings.some((r) => r.disagreement === d.id))
        .map((c) => c.component),
      changes: components
        .filter((c) => c.alternatives.some((a) => a.disagreement === d.id))
        .map((c) => c.component),
    };
  });

  const summary: Record<Verdict, number> = { works: 0, degraded: 0, fails: 0 };
  for (const c of components) summary[c.verdict] += 1;

  const cited: SourceId[] = [];
  const cite = (keys: readonly SourceId[]): void => {
    for (const key of keys) if (!cited.includes(key)) cited.push(key);
  };
  for (const c of components) cite(c.sources);
  for (const r of readings) {
    if (r.affects.length === 0) continue;
    cite(r.assumedSources);
    cite(r.otherSources);
  }
  const sources: CitedSource[] = cited.map((key, i) => citedSource(key, i + 1));

  return {
    machine: {
      name: machine.name,
      platform: machine.platform,
      role: machine.role,
      windowsVersion: machine.windowsVersion,
      userLoggedOn: machine.userLoggedOn,
      products: machine.products,
      connectivity: machine.connectivity,
      geography: machine.geography,
    },
    components,
    readings,
    assumptions: allAssumptions,
    warnings: options.warnings ?? [],
    summary,
    sources,
  };
}

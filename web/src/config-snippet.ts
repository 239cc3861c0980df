/**
 * Turns a refusal's suggestions (or the refused destination itself) into the configuration text
 * a person pastes: YAML for the configuration file, or lines for an allowlist file. Lists are
 * written whole (the values in force plus the new ones), so pasting a key replaces it with a
 * value that keeps everything already allowed. Pure: no DOM, no I/O.
 */

/** A change the gateway's explanation proposes (the admin API's `explanation.suggestions[]`). */
export interface Suggestion {
  readonly key: string;
  readonly add: readonly string[];
  readonly set?: string | boolean;
  readonly remove?: readonly string[];
}

/** What the snippet needs to know about the configuration in force (from `/api/policy`). */
export interface PolicyFacts {
  /** The catalog selection in force (`catalog:` with its defaults), when the gateway reports it. */
  readonly selection: Readonly<Record<string, unknown>> | null;
  /** The services selected when `catalog.services` is not set. */
  readonly defaultServices: readonly string[] | null;
  readonly sources: readonly string[];
  readonly ports: { readonly connect: readonly number[]; readonly http: readonly number[] };
  /** The destinations are the catalog selection. */
  readonly catalogInForce: boolean;
  /** The configuration file has `policy.destinations` of its own. */
  readonly configDestinations: boolean;
}

type Scalar = string | number | boolean;

/** One key of the snippet: a value, a whole list, or entries to append to a list. */
type Leaf =
  | { readonly kind: 'value'; readonly value: Scalar; readonly note?: string }
  | { readonly kind: 'list'; readonly values: readonly Scalar[]; readonly note?: string }
  | { readonly kind: 'append'; readonly items: readonly string[]; readonly note?: string };

interface Edit {
  readonly path: readonly string[];
  readonly leaf: Leaf;
}

const CONFIG_SECTIONS = new Set([
  'catalog',
  'policy',
  'tls',
  'limits',
  'dns',
  'admin',
  'observe',
  'log',
  'timeouts',
  'hosts',
]);

const RESERVED = /^(?:true|false|yes|no|on|off|null|~|y|n)$/i;
/** What YAML 1.1 or 1.2 would read as a number (or infinity, or not-a-number). */
const NUMBER_LIKE =
  /^[-+]?(?:\d[\d_]*(?:\.[\d_]*)?(?:e[-+]?\d+)?|\.\d[\d_]*(?:e[-+]?\d+)?|0x[\da-f_]+|0o[0-7_]+|0b[01_]+|\.inf)$|^\.nan$/i;

/** A YAML scalar: plain when that is unambiguous (in a flow sequence too), quoted otherwise. */
export function yamlScalar(value: Scalar): string {
  if (typeof value !== 'string') return String(value);
  if (/^[A-Za-z0-9][A-Za-z0-9._/-]*$/.test(value) && !RESERVED.test(value) && !NUMBER_LIKE.test(value)) {
    return value;
  }
  return JSON.stringify(value);
}

function flowList(values: readonly Scalar[]): string {
  return `[${values.map(yamlScalar).join(', ')}]`;
}

/** Is `key` a configuration key (`catalog.geographies`) rather than an allowlist file's name? */
function isConfigKey(key: string): boolean {
  const dot = key.indexOf('.');
  return dot > 0 && CONFIG_SECTIONS.has(key.slice(0, dot)) && !key.includes('/');
}

function union<T>(current: readonly T[], add: readonly T[]): T[] {
  const out = [...current];
  for (const value of add) if (!out.includes(value)) out.push(value);
  return out;
}

function stringList(value: unknown): string[] | null {
  return Array.isArray(value) && value.every((v) => typeof v === 'string') ? value : null;
}

/** A destination entry as `policy.destinations` takes it: a host name, or `{ cidr: ... }`. */
function destinationItem(text: string, ports?: readonly number[]): string {
  const cidr = /^cidr:\s*(.+)$/.exec(text);
  const list = ports === undefined ? '' : `, ports: ${flowList(ports)}`;
  if (cidr !== null) return `{ cidr: ${yamlScalar(cidr[1]!.trim())}${list} }`;
  return ports === undefined ? yamlScalar(text) : `{ host: ${yamlScalar(text)}${list} }`;
}

/** A rule of the policy in force (`/api/policy`'s `rules[]`). */
export interface PolicyRule {
  readonly rule: string;
  readonly ports: readonly number[] | null;
  readonly origin: string;
  readonly source: string;
}

/**
 * The host rule that admits `host` (as the policy's trie picks it: the exact name, else the
 * longest `.domain` or `*.domain` rule above it); `text` names it when the gateway said which.
 */
export function ruleFor(
  host: string,
  rules: readonly PolicyRule[],
  text: string | null = null,
): PolicyRule | null {
  if (text !== null) return rules.find((r) => r.rule === text) ?? null;
  const name = host.toLowerCase().replace(/\.$/, '');
  const exact = rules.find((r) => r.rule === name);
  if (exact !== undefined) return exact;
  let best: PolicyRule | null = null;
  let bestLength = -1;
  for (const r of rules) {
    const m = /^(\*\.|\.)(.+)$/.exec(r.rule);
    if (m === null || !name.endsWith(`.${m[2]!}`) || m[2]!.length <= bestLength) continue;
    best = r;
    bestLength = m[2]!.length;
  }
  return best;
}

function destinationEdits(items: readonly string[], facts: PolicyFacts): Edit[] {
  const edits: Edit[] = [];
  if (facts.catalogInForce && !facts.configDestinations) {
    edits.push({
      path: ['policy', 'defaultAllowlist'],
      leaf: { kind: 'value', value: true, note: "keeps the catalog's endpoints next to your own" },
    });
  }
  edits.push({
    path: ['policy', 'destinations'],
    leaf: facts.configDestinations
      ? { kind: 'append', items, note: 'append these to the entries already there' }
      : { kind: 'append', items },
  });
  return edits;
}

function catalogEdit(field: string, s: Suggestion, facts: PolicyFacts): Edit {
  const path = ['catalog', field];
  if (s.set !== undefined) return { path, leaf: { kind: 'value', value: s.set } };
  let current = stringList(facts.selection?.[field]);
  let note: string | undefined;
  if (current === null && field === 'services' && facts.defaultServices !== null) {
    const excluded = stringList(facts.selection?.excludeServices) ?? [];
    current = facts.defaultServices.filter((x) => !excluded.includes(x));
    note = 'the services selected until now, and the new one';
  }
  if (current === null) {
    current = [];
    if (s.add.length > 0) note = 'add these to the values in force';
  }
  const values = union(current, s.add).filter((v) => !(s.remove ?? []).includes(v));
  return { path, leaf: note === undefined ? { kind: 'list', values } : { kind: 'list', values, note } };
}

function editsFor(s: Suggestion, facts: PolicyFacts): Edit[] {
  const path = s.key.split('.');
  if (path[0] === 'catalog' && path.length === 2) return [catalogEdit(path[1]!, s, facts)];
  if (s.key === 'policy.destinations')
    return destinationEdits(
      s.add.map((a) => destinationItem(a)),
      facts,
    );
  if (s.key === 'policy.sources') {
    return [{ path, leaf: { kind: 'list', values: union(facts.sources, s.add) } }];
  }
  if (s.key === 'policy.ports.connect' || s.key === 'policy.ports.http') {
    const current = s.key.endsWith('connect') ? facts.ports.connect : facts.ports.http;
    const values = union(current, s.add.map(Number)).sort((a, b) => a - b);
    return [{ path, leaf: { kind: 'list', values } }];
  }
  if (s.set !== undefined) return [{ path, leaf: { kind: 'value', value: s.set } }];
  return [{ path, leaf: { kind: 'list', values: s.add, note: 'add these to the values in force' } }];
}

function renderLeaf(key: string, leaf: Leaf, indent: string): string[] {
  const note = leaf.note === undefined ? '' : `  # ${leaf.note}`;
  switch (leaf.kind) {
    case 'value':
      return [`${indent}${key}: ${yamlScalar(leaf.value)}${note}`];
    case 'list':
      return [`${indent}${key}: ${flowList(leaf.values)}${note}`];
    case 'append':
      return [`${indent}${key}:${note}`, ...leaf.items.map((item) => `${indent}  - ${item}`)];
  }
}

/** Nested YAML for the edits, keys grouped under their sections in the order first named. */
function renderEdits(edits: readonly Edit[]): string {
  interface Node {
    readonly children: Map<string, Node>;
    leaf: Leaf | null;
  }
  const root: Node = { children: new Map(), leaf: null };
  for (const edit of edits) {
    let node = root;
    for (const part of edit.path) {
      let next = node.children.get(part);
      if (next === undefined) {
        next = { children: new Map(), leaf: null };
        node.children.set(part, next);
      }
      node = next;
    }
    const prior = node.leaf;
    // Two suggestions for the same list (two geographies) become one list.
    if (prior !== null && prior.kind === 'list' && edit.leaf.kind === 'list') {
      node.leaf = { ...prior, values: union(prior.values, edit.leaf.values) };
    } else if (prior !== null && prior.kind === 'append' && edit.leaf.kind === 'append') {
      node.leaf = { ...prior, items: union(prior.items, edit.leaf.items) };
    } else node.leaf = edit.leaf;
  }
  const lines: string[] = [];
  const walk = (node: Node, indent: string): void => {
    for (const [key, child] of node.children) {
      if (child.leaf !== null) lines.push(...renderLeaf(key, child.leaf, indent));
      else {
        lines.push(`${indent}${key}:`);
        walk(child, `${indent}  `);
      }
    }
  };
  walk(root, '');
  return lines.join('\n');
}

const YAML_HEADER =
  '# Merge into the configuration file. A list shown here is the whole list:\n# the values in force and the new ones.';

function withHeader(yaml: string): string {
  return `${YAML_HEADER}\n${yaml}\n`;
}

/**
 * The configuration change a refusal's suggestions describe: YAML for configuration keys (the
 * catalog selection, sources, ports, destinations) and the lines to append to an allowlist file.
 * Empty when there is no suggestion.
 */
export function suggestionSnippet(suggestions: readonly Suggestion[], facts: PolicyFacts): string {
  const yamlEdits: Edit[] = [];
  const files = new Map<string, string[]>();
  for (const s of suggestions) {
    if (isConfigKey(s.key)) yamlEdits.push(...editsFor(s, facts));
    else files.set(s.key, union(files.get(s.key) ?? [], s.add));
  }
  const parts: string[] = [];
  if (yamlEdits.length > 0) parts.push(withHeader(renderEdits(yamlEdits)));
  for (const [file, lines] of files) parts.push(`# append to ${file}\n${lines.join('\n')}\n`);
  return parts.join('\n');
}

/** True when every suggestion changes the catalog selection. */
export function isCatalogSelection(suggestions: readonly Suggestion[]): boolean {
  return suggestions.length > 0 && suggestions.every((s) => s.key.startsWith('catalog.'));
}

const IPV4 = /^\d{1,3}(?:\.\d{1,3}){3}$/;

/**
 * An allow rule for a refused destination: a `policy.destinations` entry for exactly that host
 * (or address), the port added to the method's ports when they lack it, and
 * `defaultAllowlist: true` when the catalog selection would otherwise stop applying.
 *
 * When a rule already admits the host on other ports (`matched`), the entry keeps those ports
 * too (an exact entry takes precedence over a catalog or wildcard rule), and an entry of the
 * configuration file for the same host is replaced rather than repeated (a repeated host is
 * ignored). A rule without ports of its own needs only the method's ports.
 */
export function allowRuleSnippet(
  destination: { readonly method: string; readonly host: string; readonly port: number },
  facts: PolicyFacts,
  matched: PolicyRule | null = null,
): string {
  const { host, port } = destination;
  const connect = destination.method === 'CONNECT';
  const methodPorts = connect ? facts.ports.connect : facts.ports.http;
  const edits: Edit[] = [];
  if (matched === null || matched.ports !== null || methodPorts.includes(port)) {
    const address = IPV4.test(host) ? `${host}/32` : host.includes(':') ? `${host}/128` : null;
    const kept = matched === null ? [] : (matched.ports ?? methodPorts);
    const ports = union(kept, [port]).sort((a, b) => a - b);
    const item = destinationItem(address === null ? host : `cidr: ${address}`, ports);
    if (matched !== null && matched.source === 'config' && matched.rule === host) {
      edits.push({
        path: ['policy', 'destinations'],
        leaf: { kind: 'append', items: [item], note: `replace the entry at ${matched.origin} with this one` },
      });
    } else edits.push(...destinationEdits([item], facts));
  }
  if (!methodPorts.includes(port)) {
    edits.push({
      path: ['policy', 'ports', connect ? 'connect' : 'http'],
      leaf: { kind: 'list', values: union(methodPorts, [port]).sort((a, b) => a - b) },
    });
  }
  return withHeader(renderEdits(edits));
}

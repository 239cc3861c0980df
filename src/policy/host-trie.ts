import type { HostPattern } from './host-pattern.js';

interface TrieNode<T> {
  children: Map<string, TrieNode<T>> | undefined;
  exact: T | undefined;
  domain: T | undefined;
  subdomains: T | undefined;
}

function newNode<T>(): TrieNode<T> {
  return { children: undefined, exact: undefined, domain: undefined, subdomains: undefined };
}

/**
 * Host rules in a trie keyed by label, from the top-level domain down. A lookup walks at most
 * one node per label of the queried name, so its cost depends on the name, not on the number
 * of rules. The most specific (deepest) matching rule wins.
 */
export class HostTrie<T> {
  private readonly root: TrieNode<T> = newNode();
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Inserts a rule; returns the value already stored for the same pattern, if any (the first one is kept). */
  insert(pattern: HostPattern, value: T): T | undefined {
    let node = this.root;
    let end = pattern.name.length;
    while (end > 0) {
      const dot = pattern.name.lastIndexOf('.', end - 1);
      const label = pattern.name.slice(dot + 1, end);
      node.children ??= new Map();
      let child = node.children.get(label);
      if (child === undefined) {
        child = newNode();
        node.children.set(label, child);
      }
      node = child;
      end = dot === -1 ? 0 : dot;
    }
    const existing = node[pattern.kind];
    if (existing !== undefined) return existing;
    node[pattern.kind] = value;
    this.count++;
    return undefined;
  }

  /** The most specific rule admitting `name` (a normalised DNS name), or undefined. */
  match(name: string): T | undefined {
    let node: TrieNode<T> | undefined = this.root;
    let best: T | undefined;
    let end = name.length;
    while (end > 0) {
      const children: Map<string, TrieNode<T>> | undefined = node.children;
      if (children === undefined) return best;
      const dot = name.lastIndexOf('.', end - 1);
      node = children.get(name.slice(dot + 1, end));
      if (node === undefined) return best;
      if (dot === -1) {
        return node.exact ?? node.domain ?? best;
      }
      const here = node.domain ?? node.subdomains;
      if (here !== undefined) best = here;
      end = dot;
    }
    return best;
  }
}

import { builtinCatalog, type CatalogSelection } from '../catalog/index.js';
import {
  CidrList,
  HostTrie,
  parseAddress,
  parseCidr,
  parseHostPattern,
  type RuleCatalogRef,
} from '../policy/index.js';
import type { AccessRecord } from '../observe/index.js';

/**
 * Completes access records with what the gateway does not know: the client's name from
 * `observe.clientNames`, and, for a rule that is not from the catalog (an allowlist file such
 * as `.microsoft.com`), the catalog entry the host itself belongs to. A record that needs
 * neither is returned as it is.
 */
export class RecordEnricher {
  private readonly names: CidrList<string> | null;
  private readonly hosts: HostTrie<RuleCatalogRef>;

  constructor(clientNames: Readonly<Record<string, string>>, selection: CatalogSelection) {
    const entries = Object.entries(clientNames);
    if (entries.length === 0) this.names = null;
    else {
      this.names = new CidrList<string>();
      for (const [cidr, name] of entries) this.names.add(parseCidr(cidr)!, name);
    }
    this.hosts = new HostTrie<RuleCatalogRef>();
    // Named hosts before wildcards, so the trie's first entry per pattern is the most specific.
    const catalog = builtinCatalog();
    const ordered = [...catalog.entries].sort(
      (a, b) => Number(a.host.startsWith('*')) - Number(b.host.startsWith('*')),
    );
    for (const entry of ordered) {
      const host = entry.template === undefined ? entry.host : entry.template.fallback;
      if (host === undefined) continue;
      const pattern = parseHostPattern(host);
      if ('error' in pattern) continue;
      const product = entry.products.find((p) => selection.products.includes(p)) ?? entry.products[0]!;
      this.hosts.insert(pattern, { id: entry.id, product, service: entry.service, host });
    }
  }

  enrich(r: AccessRecord): AccessRecord {
    let clientName = r.clientName;
    if (clientName === null && this.names !== null) {
      const parsed = parseAddress(r.client);
      clientName = parsed === null ? null : (this.names.match(parsed)?.value ?? null);
    }
    const catalog = r.catalog === null && r.rule !== null ? (this.hosts.match(r.host) ?? null) : r.catalog;
    if (clientName === r.clientName && catalog === r.catalog) return r;
    return { ...r, clientName, catalog };
  }
}

import { PRODUCT_LABELS, type Product } from '../catalog/index.js';

/**
 * Which Defender components can answer a proxy's demand for credentials (sources table:
 * mde-network-environment, mde-streamlined-onboarding, mde-linux-connectivity, mdi-install-sensor,
 * ama-network, mma-overview). The ones that cannot need the proxy to let their destinations
 * through anonymously.
 */
const CANNOT_AUTHENTICATE: Partial<Record<Product, string>> = {
  mde: 'the sensor connects as SYSTEM and needs anonymous access; on Linux and macOS authenticated proxies are unsupported',
  'mde-streamlined': 'enforcing proxy authentication breaks streamlined connectivity',
  mdav: 'cloud protection and updates need anonymous access',
};

const CAN_AUTHENTICATE: readonly Product[] = ['mdi', 'ama', 'mma', 'arc'];

/** Sentences naming the components of `products` that cannot authenticate to a proxy. */
export function componentsThatCannotAuthenticate(products: readonly string[]): string[] {
  const known = products.length === 0 ? (Object.keys(CANNOT_AUTHENTICATE) as Product[]) : products;
  const out: string[] = [];
  for (const product of new Set(known)) {
    const why = CANNOT_AUTHENTICATE[product as Product];
    if (why !== undefined) out.push(`${PRODUCT_LABELS[product as Product]}: ${why}`);
  }
  return out;
}

/** The components of `products` that can be given proxy credentials. */
export function componentsThatCanAuthenticate(products: readonly string[]): string[] {
  return CAN_AUTHENTICATE.filter((p) => products.includes(p)).map((p) => PRODUCT_LABELS[p]);
}

/** Most texts kept by keptText(); when full it starts over. */
const KEPT_MAX = 4096;
const kept = new Map<string, string>();

/**
 * One copy of a text that many long-lived sessions hold: a host name, an upstream "address:port".
 * A host name as parsed is a slice of the whole request head, and a tunnel that kept it (in its
 * record, its decision) kept the head with it, for as long as the tunnel lives: a few hundred
 * bytes per idle tunnel. The copy kept here stands alone, and is shared.
 */
export function keptText(text: string): string {
  const known = kept.get(text);
  if (known !== undefined) return known;
  if (kept.size >= KEPT_MAX) kept.clear();
  // A string of its own, not a view into `text`'s parent (JSON round-trips any string exactly).
  const copy = JSON.parse(JSON.stringify(text)) as string;
  kept.set(copy, copy);
  return copy;
}

/**
 * One shared copy of each text that many long-lived objects hold, at most `max` of them (when
 * full it starts over). Each copy stands alone: a host name as parsed is a slice of the whole
 * request head, and whatever kept the slice kept the head with it; a string from a JSON message
 * is a copy per message.
 */
export class KeptTexts {
  private readonly texts = new Map<string, string>();

  constructor(private readonly max: number) {}

  keep(text: string): string {
    const known = this.texts.get(text);
    if (known !== undefined) return known;
    if (this.texts.size >= this.max) this.texts.clear();
    // A string of its own, not a view into `text`'s parent (JSON round-trips any string exactly).
    const copy = JSON.parse(JSON.stringify(text)) as string;
    this.texts.set(copy, copy);
    return copy;
  }
}

const gatewayTexts = new KeptTexts(4096);

/**
 * The gateway's kept copy of a text its tunnels hold for as long as they live: a host name, an
 * upstream "address:port" (a few hundred bytes per idle tunnel when each kept its own slice).
 */
export function keptText(text: string): string {
  return gatewayTexts.keep(text);
}

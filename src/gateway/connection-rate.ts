/**
 * New connections per client per second, as a token bucket per address (burst = rate).
 * Buckets of clients that went quiet are dropped, so memory follows active clients only.
 */
export class ConnectionRate {
  private readonly buckets = new Map<string, { tokens: number; last: number }>();
  private sweptAt = 0;

  constructor(
    private readonly perSecond: number,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Takes one token for `client`; false when the client is over its rate. `keep`: tokens that
   * must be left after this one (a reservation ahead of time takes only from a fuller bucket).
   */
  admit(client: string, keep = 0): boolean {
    const now = this.now();
    if (now - this.sweptAt > 10_000) this.sweep(now);
    const bucket = this.buckets.get(client);
    if (bucket === undefined) {
      if (this.perSecond - 1 < keep) return false;
      this.buckets.set(client, { tokens: this.perSecond - 1, last: now });
      return true;
    }
    bucket.tokens = Math.min(this.perSecond, bucket.tokens + ((now - bucket.last) / 1000) * this.perSecond);
    bucket.last = now;
    if (bucket.tokens < 1 + keep) return false;
    bucket.tokens -= 1;
    return true;
  }

  /** Gives back a token `admit` took for a connection that was not made. */
  refund(client: string): void {
    const bucket = this.buckets.get(client);
    if (bucket !== undefined) bucket.tokens = Math.min(this.perSecond, bucket.tokens + 1);
  }

  private sweep(now: number): void {
    this.sweptAt = now;
    for (const [client, bucket] of this.buckets) {
      if (now - bucket.last > 10_000) this.buckets.delete(client);
    }
  }

  get size(): number {
    return this.buckets.size;
  }
}

/**
 * A token bucket: `burst` at once, then `perSecond`. The one rate limit of the code: a WebSocket
 * connection keeps one per kind of frame (a few numbers, no shared map), the HTTP API one per user
 * (`RateLimiter`).
 */
export class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = burst;
    this.at = now();
  }

  /** Takes one token; returns 0 when granted, else the milliseconds until one is available. */
  take(): number {
    if (this.perSecond === 0) return 0;
    this.refill();
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil(((1 - this.tokens) / this.perSecond) * 1_000));
  }

  /** Every token is back: forgetting this bucket and making a new one later changes nothing. */
  get full(): boolean {
    if (this.perSecond === 0) return true;
    this.refill();
    return this.tokens >= this.burst;
  }

  private refill(): void {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) / 1_000) * this.perSecond);
    this.at = now;
  }
}

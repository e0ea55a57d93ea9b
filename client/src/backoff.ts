/**
 * Reconnection delays: exponential, capped, with full jitter (a uniformly random delay between 0 and
 * the capped exponential), so clients cut off together (a server restart) do not come back together.
 */
export interface BackoffOptions {
  /** The bound of the first delay, in ms (default 250). */
  initialDelayMs?: number;
  /** The cap of every delay, in ms (default 10 000). */
  maxDelayMs?: number;
}

export class Backoff {
  private attempt = 0;
  private readonly initial: number;
  private readonly max: number;

  constructor(
    options: BackoffOptions = {},
    private readonly random: () => number = Math.random,
  ) {
    this.initial = Math.max(1, options.initialDelayMs ?? 250);
    this.max = Math.max(this.initial, options.maxDelayMs ?? 10_000);
  }

  /** The delay before the next attempt; each call doubles the bound, up to the cap. */
  next(): number {
    const bound = Math.min(this.max, this.initial * 2 ** Math.min(this.attempt, 30));
    this.attempt += 1;
    return Math.floor(this.random() * bound);
  }

  /** After a success: the next delay is short again. */
  reset(): void {
    this.attempt = 0;
  }

  get attempts(): number {
    return this.attempt;
  }
}

import { LakechatError } from '../errors.ts';

export interface RateLimitOptions {
  /** Requests per second each user may sustain; 0 turns the limit off. */
  perSecond: number;
  /** Requests a user may make at once after being idle. */
  burst: number;
  now?: () => number;
  /** Users remembered at most; the least recently seen are forgotten first. */
  maxUsers?: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** A token bucket per user, in this instance's memory: enough to stop one client hogging the app. */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly now: () => number;
  private readonly maxUsers: number;

  constructor(private readonly options: RateLimitOptions) {
    this.now = options.now ?? (() => performance.now());
    this.maxUsers = options.maxUsers ?? 100_000;
  }

  /** Takes one request from the user's bucket, or throws 429 saying when to retry. */
  take(user: string): void {
    if (this.options.perSecond === 0) return;
    const now = this.now();
    const bucket = this.buckets.get(user) ?? { tokens: this.options.burst, at: now };
    this.buckets.delete(user);
    bucket.tokens = Math.min(this.options.burst, bucket.tokens + ((now - bucket.at) / 1_000) * this.options.perSecond);
    bucket.at = now;
    this.buckets.set(user, bucket);
    if (this.buckets.size > this.maxUsers) this.buckets.delete(this.buckets.keys().next().value!);
    if (bucket.tokens < 1) {
      const retryAfterSeconds = Math.max(1, Math.ceil((1 - bucket.tokens) / this.options.perSecond));
      throw new LakechatError('LAKECHAT_ERR_HTTP_RATE_LIMITED', undefined, { details: { retryAfterSeconds } });
    }
    bucket.tokens -= 1;
  }
}

import { LakechatError } from '../errors.ts';
import { TokenBucket } from '../token-bucket.ts';

export interface RateLimitOptions {
  /** Requests per second each user may sustain; 0 turns the limit off. */
  perSecond: number;
  /** Requests a user may make at once after being idle. */
  burst: number;
  now?: () => number;
  /** Users remembered at most; the least recently seen are forgotten first. */
  maxUsers?: number;
}

/** A token bucket per user, in this instance's memory: enough to stop one client hogging the app. */
export class RateLimiter {
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly now: () => number;
  private readonly maxUsers: number;

  constructor(private readonly options: RateLimitOptions) {
    this.now = options.now ?? (() => performance.now());
    this.maxUsers = options.maxUsers ?? 100_000;
  }

  /** Takes one request from the user's bucket, or throws 429 saying when to retry. */
  take(user: string): void {
    if (this.options.perSecond === 0) return;
    const bucket = this.buckets.get(user) ?? new TokenBucket(this.options.perSecond, this.options.burst, this.now);
    // Most recently seen last: the first key is the one to forget.
    this.buckets.delete(user);
    this.buckets.set(user, bucket);
    if (this.buckets.size > this.maxUsers) this.buckets.delete(this.buckets.keys().next().value!);
    const waitMs = bucket.take();
    if (waitMs > 0) throw new LakechatError('LAKECHAT_ERR_HTTP_RATE_LIMITED', undefined, { details: { retryAfterSeconds: Math.ceil(waitMs / 1_000) } });
  }
}

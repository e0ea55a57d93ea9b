import { LakechatError } from '../errors.ts';
import { compareCursors } from '../event-store/index.ts';

interface Waiter {
  cursor: string;
  since: number;
  resolve(): void;
  reject(error: unknown): void;
  timer: NodeJS.Timeout;
}

const waitSamples = 10_000;

/**
 * Writes waiting for the read models to pass their cursor (read-your-writes), and how long recent
 * ones waited. `passed` resolves every wait at or before the new cursor; a wait that outlasts its
 * timeout fails with LAKECHAT_ERR_PROJECTION_TIMEOUT, and `stop` fails the rest.
 */
export class CursorWaiters {
  private waiters: Waiter[] = [];
  /** How long recent writes waited, in ms (a ring): the price of read-your-writes. */
  private readonly waits = new Float64Array(waitSamples);
  private count = 0;

  /** Waits until `passed` reaches `cursor`; `applied` (for the timeout's details) is where the read models stand now. */
  wait(cursor: string, timeoutMs: number, applied: () => string | null): Promise<void> {
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        cursor,
        since: performance.now(),
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          reject(new LakechatError('LAKECHAT_ERR_PROJECTION_TIMEOUT', undefined, { details: { cursor, appliedCursor: applied(), waitedMs: timeoutMs } }));
        }, timeoutMs),
      };
      waiter.timer.unref();
      this.waiters.push(waiter);
    });
  }

  /** The read models passed `cursor`: every wait at or before it resolves. */
  passed(cursor: string | null): void {
    if (this.waiters.length === 0) return;
    const waiting: Waiter[] = [];
    for (const waiter of this.waiters) {
      if (compareCursors(cursor, waiter.cursor) >= 0) {
        clearTimeout(waiter.timer);
        this.record(performance.now() - waiter.since);
        waiter.resolve();
      } else {
        waiting.push(waiter);
      }
    }
    this.waiters = waiting;
  }

  /** Fails every wait (the runner stopped). */
  stop(): void {
    for (const waiter of this.waiters) {
      clearTimeout(waiter.timer);
      waiter.reject(new LakechatError('LAKECHAT_ERR_PROJECTION_STOPPED'));
    }
    this.waiters = [];
  }

  record(ms: number): void {
    this.waits[this.count % waitSamples] = ms;
    this.count++;
  }

  /** How many waits have been recorded. */
  get recorded(): number {
    return this.count;
  }

  /** The most recent waits (up to 10,000), in milliseconds, oldest first. */
  recent(): number[] {
    const count = Math.min(this.count, waitSamples);
    const start = this.count - count;
    return Array.from({ length: count }, (_, i) => this.waits[(start + i) % waitSamples]!);
  }
}

import type { Logger } from 'pino';
import { compareCursors } from '../cursor.ts';

export interface CoalescedNotifierOptions {
  /** Sends one notification; runs outside any append's transaction. */
  send(cursor: string): Promise<void>;
  /** At most one notification per this many milliseconds (0: one per commit, but never two at once). */
  intervalMs: number;
  logger?: Logger | undefined;
}

/**
 * Tells other instances that the log grew, at most once per interval. A transaction that sends
 * NOTIFY takes a cluster-wide lock at commit, so a NOTIFY inside every append would serialize all
 * commits; here it is its own tiny transaction after commit, coalesced, carrying only the newest
 * cursor (the store is the truth; the notification is a hint).
 */
export class CoalescedNotifier {
  private latest: string | null = null;
  private sentLatest: string | null = null;
  private lastSentAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private sending: Promise<void> | undefined;
  private closing = false;
  private closed = false;

  constructor(private readonly options: CoalescedNotifierOptions) {}

  changed(cursor: string): void {
    if (this.closed) return;
    if (compareCursors(cursor, this.latest) > 0) this.latest = cursor;
    this.schedule();
  }

  /** Sends what is pending now, then stops. */
  async close(): Promise<void> {
    // No new timer from here on: a send finishing now must not schedule one behind our final send.
    this.closing = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.sending !== undefined) await this.sending;
    if (this.latest !== this.sentLatest) await this.send();
    this.closed = true;
  }

  private schedule(): void {
    if (this.closing || this.timer !== undefined || this.sending !== undefined || this.latest === this.sentLatest) return;
    const wait = Math.max(0, this.lastSentAt + this.options.intervalMs - Date.now());
    if (wait === 0) {
      void this.send();
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.send();
    }, wait);
    this.timer.unref();
  }

  private async send(): Promise<void> {
    const cursor = this.latest;
    if (cursor === null || this.closed) return;
    this.sentLatest = cursor;
    this.lastSentAt = Date.now();
    this.sending = this.options.send(cursor).catch((error: unknown) => {
      // Listeners also poll, so a lost notification only delays them.
      this.options.logger?.warn({ err: error }, 'event notification failed');
    });
    await this.sending;
    this.sending = undefined;
    this.schedule();
  }
}

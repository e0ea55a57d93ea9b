import type { Clock, Timer } from '../../../src/lakebase/index.ts';

interface Scheduled {
  at: number;
  callback: () => void;
  cancelled: boolean;
}

/** A clock the test moves by hand: timers fire during `advance`, in time order, without waiting. */
export class ManualClock implements Clock {
  #now: number;
  #timers: Scheduled[] = [];

  constructor(start = Date.now()) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  schedule(callback: () => void, delayMs: number): Timer {
    const entry: Scheduled = { at: this.#now + delayMs, callback, cancelled: false };
    this.#timers.push(entry);
    return {
      cancel: () => {
        entry.cancelled = true;
      },
    };
  }

  /** Timers not yet fired nor cancelled. */
  pending(): number {
    return this.#timers.filter((timer) => !timer.cancelled).length;
  }

  /** Moves time forward, firing each timer due on the way at its own time. */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      const due = this.#timers.filter((timer) => !timer.cancelled && timer.at <= target).sort((a, b) => a.at - b.at)[0];
      if (due === undefined) break;
      this.#timers = this.#timers.filter((timer) => timer !== due);
      this.#now = Math.max(this.#now, due.at);
      due.callback();
    }
    this.#now = target;
    this.#timers = this.#timers.filter((timer) => !timer.cancelled);
  }
}

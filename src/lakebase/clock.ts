/** A scheduled callback that can be cancelled. */
export interface Timer {
  cancel(): void;
}

/**
 * Time, injected: the token provider reads `now()` and schedules its refreshes through a clock, so
 * tests move time forward by hand instead of waiting.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs `callback` once after `delayMs`. The timer never keeps the process alive. */
  schedule(callback: () => void, delayMs: number): Timer;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  schedule(callback, delayMs) {
    const timer = setTimeout(callback, delayMs);
    // A pending token refresh is no reason to keep the process running.
    timer.unref();
    return { cancel: () => clearTimeout(timer) };
  },
};

interface Waiter {
  amount: number;
  grant: (release: () => void) => void;
}

/**
 * A shared allowance (bytes, or turns) that callers take and give back: `take` waits, first come
 * first served, until the amount fits. It is how one user's (or one instance's) concurrent reads are
 * bounded without refusing them: the extra ones queue instead of piling up in memory.
 */
export class Budget {
  private used = 0;
  private readonly waiting: Waiter[] = [];

  constructor(readonly capacity: number) {}

  /** Taken and not yet given back. */
  get inUse(): number {
    return this.used;
  }

  /** Callers waiting for their turn. */
  get queued(): number {
    return this.waiting.length;
  }

  get idle(): boolean {
    return this.used === 0 && this.waiting.length === 0;
  }

  /**
   * Resolves with the function that gives `amount` back (at most the capacity, so any amount is
   * granted eventually). Aborting `signal` while waiting resolves at once with a release that does
   * nothing: the caller sees its signal aborted and goes away without having taken anything.
   */
  take(amount: number, signal?: AbortSignal): Promise<() => void> {
    const wanted = Math.min(Math.max(0, amount), this.capacity);
    if (signal?.aborted === true) return Promise.resolve(noop);
    if (this.waiting.length === 0 && this.used + wanted <= this.capacity) return Promise.resolve(this.grant(wanted));
    return new Promise((resolve) => {
      const waiter: Waiter = {
        amount: wanted,
        grant: (release) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(release);
        },
      };
      const onAbort = (): void => {
        const index = this.waiting.indexOf(waiter);
        if (index !== -1) this.waiting.splice(index, 1);
        resolve(noop);
        this.admit();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(waiter);
    });
  }

  private grant(amount: number): () => void {
    this.used += amount;
    let given = false;
    return () => {
      if (given) return;
      given = true;
      this.used -= amount;
      this.admit();
    };
  }

  private admit(): void {
    while (this.waiting.length > 0 && this.used + this.waiting[0]!.amount <= this.capacity) {
      const waiter = this.waiting.shift()!;
      waiter.grant(this.grant(waiter.amount));
    }
  }
}

function noop(): void {}

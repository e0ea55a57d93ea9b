import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';

export interface OutboxOptions {
  /** Above this many bytes waiting to be written, the outbox is paused. */
  capBytes: number;
  /** Paused this long without draining: `onStuck` is called. */
  stuckTimeoutMs: number;
  onStuck(): void;
}

const OPEN = 1;

/**
 * The sending side of one WebSocket. Frames sent within one tick leave in one write (the TCP
 * socket is corked until the tick's microtasks are done), so a fan-out burst costs a system call per
 * socket rather than one per frame. Above the cap the outbox is paused: whoever produces frames
 * waits for `drained()`, which resolves once the socket has written its buffer down to half the cap.
 */
export class Outbox {
  private pausedNow = false;
  private corked = false;
  private waiters: (() => void)[] = [];
  private stuckTimer: NodeJS.Timeout | undefined;
  private readonly uncork = (): void => {
    this.corked = false;
    this.transport?.uncork();
  };
  private readonly written = (): void => {
    if (this.pausedNow && this.socket.bufferedAmount <= this.options.capBytes / 2) this.resume();
  };

  constructor(
    private readonly socket: WebSocket,
    /** The TCP socket under the WebSocket (absent for fastify's injected WebSockets). */
    private readonly transport: Duplex | undefined,
    private readonly options: OutboxOptions,
  ) {}

  get paused(): boolean {
    return this.pausedNow;
  }

  get bufferedBytes(): number {
    return this.socket.bufferedAmount;
  }

  send(text: string): void {
    if (this.socket.readyState !== OPEN) return;
    if (!this.corked && this.transport !== undefined) {
      this.corked = true;
      this.transport.cork();
      process.nextTick(this.uncork);
    }
    this.socket.send(text, this.written);
    if (!this.pausedNow && this.socket.bufferedAmount > this.options.capBytes) this.pause();
  }

  /** Resolves when the outbox is no longer paused, or when `wakeAll` is called. */
  drained(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Wakes every waiter (to see that its subscription or connection ended). */
  wakeAll(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  /** Hands what is corked to the kernel now (before the socket is destroyed). */
  flush(): void {
    if (this.corked) this.uncork();
  }

  stop(): void {
    clearTimeout(this.stuckTimer);
    this.wakeAll();
  }

  private pause(): void {
    this.pausedNow = true;
    this.stuckTimer = setTimeout(() => {
      if (this.pausedNow) this.options.onStuck();
    }, this.options.stuckTimeoutMs);
    this.stuckTimer.unref();
  }

  private resume(): void {
    this.pausedNow = false;
    clearTimeout(this.stuckTimer);
    this.wakeAll();
  }
}

import { Budget } from '../budget.ts';
import type { Config } from '../config.ts';

/** How much a page of messages may hold, and how many such pages may be read and sent at once. */
export interface MessageReadBounds {
  /** A page of `GET …/messages` stops before its messages pass this many bytes (content and trace summaries). */
  pageBytes: number;
  /** Pages one user may have being read or sent at once on this instance; more wait their turn. */
  readsPerUser: number;
  /** Bytes of pages (counted at `pageBytes` each) this instance may have being read or sent at once. */
  bytesInFlight: number;
}

export const defaultMessageReadBounds: MessageReadBounds = Object.freeze({
  pageBytes: 512 * 1024,
  readsPerUser: 2,
  bytesInFlight: 16 * 1024 * 1024,
});

export function messageReadBoundsFrom(config: Config): MessageReadBounds {
  const env = config.env;
  return Object.freeze({ pageBytes: env.MESSAGES_PAGE_BYTES, readsPerUser: env.MESSAGES_READS_PER_USER, bytesInFlight: env.MESSAGES_READ_BYTES_IN_FLIGHT });
}

/**
 * Turns to read and send a page of messages: one of the user's `readsPerUser`, then `pageBytes` of
 * the instance's `bytesInFlight`. A hundred concurrent requests of one user wait in line instead of
 * each holding megabytes, and one user's line does not hold up the others'.
 */
export class MessageReads {
  private readonly instance: Budget;
  private readonly users = new Map<string, Budget>();

  constructor(readonly bounds: MessageReadBounds) {
    this.instance = new Budget(bounds.bytesInFlight);
  }

  /** Waits for a turn; call the result once the page is sent (or the request ended). */
  async begin(user: string, signal?: AbortSignal): Promise<() => void> {
    let turns = this.users.get(user);
    if (turns === undefined) this.users.set(user, (turns = new Budget(this.bounds.readsPerUser)));
    const userTurn = await turns.take(1, signal);
    const bytes = await this.instance.take(this.bounds.pageBytes, signal);
    return () => {
      bytes();
      userTurn();
      if (turns.idle && this.users.get(user) === turns) this.users.delete(user);
    };
  }
}

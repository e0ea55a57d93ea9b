import type { EventFilter } from '../event-store/index.ts';
import type { WsConnection } from './connection.ts';

export type SubscriptionScope = 'chat' | 'user' | 'all';

const subscriptionEnded = Object.freeze({ name: 'AbortError', message: 'The subscription ended' });

/** One `subscribe` of one connection: what it follows, and whether it has reached the live edge. */
export class Subscription {
  /** True once `caught_up` was sent: signals go only to subscriptions that are live. */
  live = false;
  closed = false;
  readonly controller = new AbortController();

  constructor(
    readonly connection: WsConnection,
    readonly id: string,
    readonly scope: SubscriptionScope,
    readonly owner: string,
    /** The chat's stream, for the chat scope. */
    readonly streamId: string | undefined,
    /** For the user scope: the streams of the user's recent erasure here (its tombstones), read as well. */
    readonly erasedStreams: readonly string[] = [],
  ) {}

  get filter(): EventFilter | undefined {
    if (this.scope === 'chat') return { streamId: this.streamId! };
    if (this.scope === 'user') return this.erasedStreams.length === 0 ? { owner: this.owner } : { owner: this.owner, alsoStreamIds: this.erasedStreams };
    return undefined;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    // One shared reason: abort() without one builds a DOMException and its stack each time, which a
    // client churning subscriptions would make the instance do thousands of times a second.
    this.controller.abort(subscriptionEnded);
  }
}

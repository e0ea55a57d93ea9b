import { Budget } from '../budget.ts';
import { TokenBucket } from '../token-bucket.ts';
import type { WsLimits } from './limits.ts';

/**
 * What all of one user's connections on this instance share, so that opening more connections buys
 * a user no more of the instance: a budget for each kind of frame that costs work (subscribes,
 * posts, signals), turns to read history from the store, and the chats already found readable (so
 * reconnecting in a loop costs no query each time).
 */
export interface UserShare {
  connections: number;
  readonly subscribes: TokenBucket;
  readonly posts: TokenBucket;
  readonly signals: TokenBucket;
  readonly historyReads: Budget;
  /** Chats the user was found to have (kept while they are connected), and lookups under way. */
  readonly authorizedChats: Set<string>;
  readonly authorizing: Map<string, Promise<boolean>>;
}

/** How many connections' worth of subscriptions (WS_MAX_SUBSCRIPTIONS each) a user may start at once. */
export const userSubscribeBurstConnections = 3;

/**
 * Nothing left to remember: no connection, no read, every budget refilled. Kept until then, so a
 * user who closes every connection and reconnects starts with what they had left, not a new budget.
 */
export function shareIsIdle(share: UserShare): boolean {
  return share.connections <= 0 && share.historyReads.idle && share.subscribes.full && share.posts.full && share.signals.full;
}

export function newUserShare(limits: WsLimits): UserShare {
  return {
    connections: 0,
    // Three connections' worth at once: a user's tabs resubscribing everything after a restart.
    subscribes: new TokenBucket(limits.userSubscribesPerSecond, Math.max(1, limits.userSubscribesPerSecond, userSubscribeBurstConnections * limits.maxSubscriptions)),
    posts: new TokenBucket(limits.userPostsPerSecond, Math.max(1, limits.userPostsPerSecond)),
    signals: new TokenBucket(limits.userSignalsPerSecond, Math.max(1, limits.userSignalsPerSecond)),
    historyReads: new Budget(limits.historyReadsPerUser),
    authorizedChats: new Set(),
    authorizing: new Map(),
  };
}

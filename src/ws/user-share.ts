import { Budget } from '../budget.ts';
import { TokenBucket } from '../token-bucket.ts';
import type { WsLimits } from './limits.ts';

/**
 * What all of one user's connections on this instance share, so that opening more connections buys
 * a user no more of the instance: a signal budget, turns to read history from the store, and the
 * chats already found readable (so reconnecting in a loop costs no query each time).
 */
export interface UserShare {
  connections: number;
  readonly signals: TokenBucket;
  readonly historyReads: Budget;
  /** Chats the user was found to have (kept while they are connected), and lookups under way. */
  readonly authorizedChats: Set<string>;
  readonly authorizing: Map<string, Promise<boolean>>;
}

export function newUserShare(limits: WsLimits): UserShare {
  return {
    connections: 0,
    signals: new TokenBucket(limits.userSignalsPerSecond, Math.max(1, limits.userSignalsPerSecond)),
    historyReads: new Budget(limits.historyReadsPerUser),
    authorizedChats: new Set(),
    authorizing: new Map(),
  };
}

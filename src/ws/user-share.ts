import { Budget } from '../budget.ts';
import type { WsLimits } from './limits.ts';
import { TokenBucket } from './token-bucket.ts';

/**
 * What all of one user's connections on this instance share, so that opening more connections buys
 * a user no more of the instance: a signal budget, and turns to read history from the store.
 */
export interface UserShare {
  connections: number;
  readonly signals: TokenBucket;
  readonly historyReads: Budget;
}

export function newUserShare(limits: WsLimits): UserShare {
  return {
    connections: 0,
    signals: new TokenBucket(limits.userSignalsPerSecond, Math.max(1, limits.userSignalsPerSecond)),
    historyReads: new Budget(limits.historyReadsPerUser),
  };
}

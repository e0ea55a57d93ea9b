import type { Config } from '../config.ts';

/** The limits of the WebSocket transport, read once from the configuration. */
export interface WsLimits {
  maxPayloadBytes: number;
  /** Posts each connection may sustain per second (the burst is the same number); 0: no limit. */
  postsPerSecond: number;
  signalsPerSecond: number;
  maxSubscriptions: number;
  maxConnectionsPerUser: number;
  heartbeatIntervalMs: number;
  /** Above this many bytes waiting to be written, the connection stops pulling events. */
  sendBufferBytes: number;
  /** A connection above the send buffer cap for this long is closed as a slow consumer. */
  stuckTimeoutMs: number;
  /** Frames answered with an error a connection may send at once before it is closed (1008)... */
  badFrameBurst: number;
  /** ...and per second after that. */
  badFramesPerSecond: number;
  /** How long a shutdown waits for clients to finish the close handshake before cutting them off. */
  closeGraceMs: number;
  /** `subscribe` frames each connection may sustain per second (same burst); 0: no limit. */
  subscribesPerSecond: number;
  /** Signals one user may sustain per second across all their connections here (same burst); 0: no limit. */
  userSignalsPerSecond: number;
  /** Connections one user may open per second on this instance (the burst is the larger of this and maxConnectionsPerUser); 0: no limit. */
  userConnectsPerSecond: number;
  /** History (catch-up) reads one user may have running at once across all their connections here. */
  historyReadsPerUser: number;
  /** A subscription's catch-up page holds at most this many bytes of events. */
  subscriptionPageBytes: number;
  /** A live subscription with more than this many bytes of events queued falls back to reading the store. */
  subscriptionQueueBytes: number;
  /** `subscribe` frames one user may sustain per second across all their connections here (the burst is the larger of this and 3 × maxSubscriptions); 0: no limit. */
  userSubscribesPerSecond: number;
  /** Posts one user may sustain per second across all their connections here (same burst); 0: no limit. */
  userPostsPerSecond: number;
}

export function wsLimitsFrom(config: Config): WsLimits {
  const env = config.env;
  return Object.freeze({
    maxPayloadBytes: env.WS_MAX_PAYLOAD_BYTES,
    postsPerSecond: env.WS_POSTS_PER_SECOND,
    signalsPerSecond: env.WS_SIGNALS_PER_SECOND,
    maxSubscriptions: env.WS_MAX_SUBSCRIPTIONS,
    maxConnectionsPerUser: env.WS_MAX_CONNECTIONS_PER_USER,
    heartbeatIntervalMs: env.WS_HEARTBEAT_INTERVAL_MS,
    sendBufferBytes: env.WS_SEND_BUFFER_BYTES,
    stuckTimeoutMs: env.WS_STUCK_TIMEOUT_MS,
    badFrameBurst: 50,
    badFramesPerSecond: 5,
    closeGraceMs: 2_000,
    subscribesPerSecond: env.WS_SUBSCRIBES_PER_SECOND,
    userSignalsPerSecond: env.WS_USER_SIGNALS_PER_SECOND,
    historyReadsPerUser: env.WS_HISTORY_READS_PER_USER,
    userConnectsPerSecond: env.WS_USER_CONNECTS_PER_SECOND,
    subscriptionPageBytes: env.WS_SUBSCRIPTION_PAGE_BYTES,
    subscriptionQueueBytes: env.WS_SUBSCRIPTION_QUEUE_BYTES,
    userSubscribesPerSecond: env.WS_USER_SUBSCRIBES_PER_SECOND,
    userPostsPerSecond: env.WS_USER_POSTS_PER_SECOND,
  });
}

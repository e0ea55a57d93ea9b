import type { Duplex } from 'node:stream';
import type { FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import type { ChatService } from '../chats/chat-service.ts';
import { LakechatError } from '../errors.ts';
import type { EventStore } from '../event-store/index.ts';
import type { Identity } from '../http/identity.ts';
import { RateLimiter } from '../http/rate-limit.ts';
import type { Logger } from '../logger.ts';
import type { Projections } from '../projection-runner/read-models.ts';
import { type CloseReason, closeReasons } from './close-codes.ts';
import { type ConnectionHost, WsConnection, type WsTraffic } from './connection.ts';
import type { WsLimits } from './limits.ts';
import { originAllowed } from './origin.ts';
import { errorFrame } from './server-frames.ts';
import { createSignalRelay, type SignalEnvelope, type SignalRelay } from './signal-relay.ts';
import type { Subscription } from './subscription.ts';
import { newUserShare, shareIsIdle, type UserShare } from './user-share.ts';

export interface WsHubOptions {
  store: EventStore;
  chats: ChatService;
  projections: Projections;
  limits: WsLimits;
  logger: Logger;
  /** Resolves the caller from the upgrade request's headers, as for HTTP (throws a 401 error). */
  identify(headers: FastifyRequest['headers']): Identity;
  /** Trust a `user` query parameter as X-Demo-User (browsers cannot set headers on a WebSocket). */
  allowDemoUser: boolean;
  allowedOrigins: readonly string[];
  /** The streams of a user's recent erasure on this instance (`Erasures.erasedStreamsOf`). */
  erasedStreamsOf?: (owner: string) => readonly string[];
}

/** A snapshot of this instance's WebSocket connections, for tests, health checks and benchmarks. */
export interface WsStats {
  connections: number;
  subscriptions: number;
  /** Connections above the send buffer cap right now (their subscriptions are not pulling). */
  paused: number;
  /** The most bytes any one connection has waiting to be written. */
  maxBufferedBytes: number;
  /** History reads running or waiting for their user's turn. */
  historyReads: number;
}

/**
 * Every WebSocket connection of this instance: accepts them (origin, identity, connections per user),
 * runs the heartbeat, routes signals to the subscriptions of a chat (from this instance or, through
 * the relay, from the others), and closes everything with 1012 on shutdown.
 */
export class WsHub implements ConnectionHost {
  readonly store: EventStore;
  readonly chats: ChatService;
  readonly limits: WsLimits;
  readonly logger: Logger;
  readonly instanceId: string;
  readonly traffic: WsTraffic = { framesSent: 0, signalsDropped: 0 };
  private readonly connections = new Set<WsConnection>();
  private readonly perUser = new Map<string, UserShare>();
  private readonly byStream = new Map<string, Set<Subscription>>();
  private readonly byOwner = new Map<string, Set<Subscription>>();
  private readonly relay: SignalRelay;
  private readonly upgrades: RateLimiter;
  private nextId = 1;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private stopping: Promise<void> | undefined;
  private whenEmpty: (() => void) | undefined;

  constructor(private readonly options: WsHubOptions) {
    this.store = options.store;
    this.chats = options.chats;
    this.limits = options.limits;
    this.logger = options.logger;
    this.relay = createSignalRelay(options.store, (envelope) => this.deliver(envelope));
    this.instanceId = this.relay.instanceId;
    const perSecond = this.limits.userConnectsPerSecond;
    this.upgrades = new RateLimiter({ perSecond, burst: Math.max(perSecond, this.limits.maxConnectionsPerUser) });
  }

  /**
   * Before the upgrade: a user who opens connections faster than WS_USER_CONNECTS_PER_SECOND is
   * answered 429 (Retry-After) without a WebSocket being made, the cheapest refusal there is: a
   * reconnect loop costs the instance an HTTP answer each, not a connection's set-up and frames. A
   * request without a valid identity goes on, to be refused by `accept` with the reason.
   */
  admitUpgrade(request: FastifyRequest): void {
    let identity: Identity;
    try {
      identity = this.options.identify(this.upgradeHeaders(request));
    } catch {
      return;
    }
    this.upgrades.take(identity.email);
  }

  accept(socket: WebSocket, request: FastifyRequest): void {
    if (this.stopping !== undefined) return refuse(socket, closeReasons.serverRestarting);
    if (!originAllowed(request.headers, this.options.allowedOrigins)) {
      this.logger.info({ origin: request.headers.origin }, 'refused a WebSocket from a foreign origin');
      return refuse(socket, closeReasons.forbiddenOrigin);
    }
    let identity: Identity;
    try {
      identity = this.options.identify(this.upgradeHeaders(request));
    } catch (error) {
      const invalid = error instanceof LakechatError && error.code === 'LAKECHAT_ERR_AUTH_INVALID_IDENTITY';
      return refuse(socket, invalid ? closeReasons.invalidIdentity : closeReasons.missingIdentity, error);
    }
    const share = this.userShare(identity.email);
    if (share.connections >= this.limits.maxConnectionsPerUser) {
      const error = new LakechatError('LAKECHAT_ERR_WS_TOO_MANY_CONNECTIONS', undefined, { details: { max: this.limits.maxConnectionsPerUser } });
      return refuse(socket, closeReasons.tooManyConnections, error);
    }
    share.connections++;
    const context = { actor: identity.email, correlationId: request.id, client: 'ws' };
    const connection = new WsConnection(this.nextId++, socket, request.raw.socket as Duplex | undefined, identity, context, this);
    this.connections.add(connection);
    this.logger.debug({ connection: connection.id }, 'WebSocket connected');
    this.heartbeatTimer ??= setInterval(() => this.heartbeat(), this.limits.heartbeatIntervalMs).unref();
  }

  stats(): WsStats {
    let subscriptions = 0;
    let paused = 0;
    let maxBufferedBytes = 0;
    for (const connection of this.connections) {
      subscriptions += connection.subscriptionCount;
      if (connection.isPaused) paused++;
      maxBufferedBytes = Math.max(maxBufferedBytes, connection.bufferedBytes);
    }
    let historyReads = 0;
    for (const share of this.perUser.values()) historyReads += share.historyReads.inUse + share.historyReads.queued;
    return { connections: this.connections.size, subscriptions, paused, maxBufferedBytes, historyReads };
  }

  /** The user's share of this instance (kept while they have a connection here). */
  userShare(email: string): UserShare {
    let share = this.perUser.get(email);
    if (share === undefined) this.perUser.set(email, (share = newUserShare(this.limits)));
    return share;
  }

  /** Stops accepting, asks every client to reconnect elsewhere (1012), and cuts off the slow ones. */
  shutdown(): Promise<void> {
    this.stopping ??= (async () => {
      clearInterval(this.heartbeatTimer);
      this.heartbeatTimer = undefined;
      for (const connection of this.connections) connection.close(closeReasons.serverRestarting);
      if (this.connections.size === 0) return;
      const empty = new Promise<void>((resolve) => (this.whenEmpty = resolve));
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), this.limits.closeGraceMs)));
      if ((await Promise.race([empty, late])) === 'late') {
        for (const connection of this.connections) connection.terminate();
        await empty;
      }
      clearTimeout(timer);
    })();
    return this.stopping;
  }

  async chatIsReadable(owner: string, chatId: string): Promise<boolean> {
    if (await this.chats.canRead(owner, chatId)) return true;
    // The chat may have been started through another instance a moment ago: if its stream exists,
    // let this instance's read models apply its last event before saying no.
    const stream = await this.store.readStream(this.chats.streamIdOf(owner, chatId), { direction: 'backwards', limit: 1 });
    const last = stream.events[0];
    if (last === undefined) return false;
    await this.options.projections.runner.waitFor(last.cursor);
    return this.chats.canRead(owner, chatId);
  }

  subscribed(subscription: Subscription): void {
    const index = this.indexOf(subscription);
    if (index === undefined) return;
    const [map, key] = index;
    let set = map.get(key);
    if (set === undefined) map.set(key, (set = new Set()));
    set.add(subscription);
  }

  unsubscribed(subscription: Subscription): void {
    const index = this.indexOf(subscription);
    if (index === undefined) return;
    const [map, key] = index;
    const set = map.get(key);
    if (set?.delete(subscription) === true && set.size === 0) map.delete(key);
  }

  async publishSignal(envelope: SignalEnvelope, payload: string): Promise<void> {
    this.deliver(envelope);
    await this.relay.publish(payload);
  }

  erasedStreamsOf(owner: string): readonly string[] {
    return this.options.erasedStreamsOf?.(owner) ?? [];
  }

  closed(connection: WsConnection): void {
    if (!this.connections.delete(connection)) return;
    const email = connection.identity.email;
    const share = this.perUser.get(email);
    // Kept while a read of a closed connection still holds a turn, or a budget is not refilled, so the bounds hold across reconnects.
    if (share !== undefined && --share.connections <= 0 && shareIsIdle(share)) this.perUser.delete(email);
    if (this.connections.size === 0) {
      clearInterval(this.heartbeatTimer);
      this.heartbeatTimer = undefined;
      this.whenEmpty?.();
    }
  }

  private deliver(envelope: SignalEnvelope): void {
    for (const subscription of this.byStream.get(envelope.streamId) ?? []) subscription.connection.deliverSignal(subscription, envelope);
    for (const subscription of this.byOwner.get(envelope.owner) ?? []) subscription.connection.deliverSignal(subscription, envelope);
  }

  private indexOf(subscription: Subscription): [Map<string, Set<Subscription>>, string] | undefined {
    if (subscription.scope === 'chat') return [this.byStream, subscription.streamId!];
    if (subscription.scope === 'user') return [this.byOwner, subscription.owner];
    return undefined;
  }

  private heartbeat(): void {
    for (const connection of this.connections) connection.heartbeat();
    for (const [email, share] of this.perUser) if (shareIsIdle(share)) this.perUser.delete(email);
  }

  private upgradeHeaders(request: FastifyRequest): FastifyRequest['headers'] {
    const user = (request.query as Record<string, unknown> | undefined)?.user;
    if (!this.options.allowDemoUser || typeof user !== 'string' || request.headers['x-demo-user'] !== undefined) return request.headers;
    return { ...request.headers, 'x-demo-user': user };
  }
}

/** Tells a client why it may not stay, then closes: a browser sees the code, never an HTTP status. */
function refuse(socket: WebSocket, { code, reason }: CloseReason, error?: unknown): void {
  const reported = error instanceof LakechatError ? error : new LakechatError(reason);
  socket.send(errorFrame(reported));
  socket.close(code, reason);
}

import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import type { ChatService } from '../chats/chat-service.ts';
import type { CommandContext } from '../commands/index.ts';
import { LakechatError } from '../errors.ts';
import type { EventStore, RecordedEvent } from '../event-store/index.ts';
import type { Identity } from '../http/identity.ts';
import type { Logger } from '../logger.ts';
import { TokenBucket } from '../token-bucket.ts';
import { type PostFrame, parseClientFrame, type SignalFrame, type SubscribeFrame, type UnsubscribeFrame } from './client-frames.ts';
import { type CloseReason, closeReasons } from './close-codes.ts';
import type { WsLimits } from './limits.ts';
import { Outbox } from './outbox.ts';
import { ackFrame, caughtUpFrame, errorFrame, eventFrame, pongFrame, signalFrameFor, storeChangedFrame, unsubscribedFrame } from './server-frames.ts';
import { encodeSignal, type SignalEnvelope } from './signal-relay.ts';
import { Subscription } from './subscription.ts';
import type { UserShare } from './user-share.ts';

/** Frames this instance's connections sent, and signals dropped for clients that were behind, since start. */
export interface WsTraffic {
  framesSent: number;
  signalsDropped: number;
}

/** What a connection needs from the hub that accepted it. */
export interface ConnectionHost {
  readonly store: EventStore;
  readonly chats: ChatService;
  readonly limits: WsLimits;
  readonly logger: Logger;
  readonly instanceId: string;
  readonly traffic: WsTraffic;
  /** The user has this chat (waiting for this instance's read models to catch up before saying no). */
  chatIsReadable(owner: string, chatId: string): Promise<boolean>;
  subscribed(subscription: Subscription): void;
  unsubscribed(subscription: Subscription): void;
  /** What this user's connections on this instance share: their signal budget and their history reads. */
  userShare(email: string): UserShare;
  /** Delivers to this instance's other subscribers and relays `payload` (encodeSignal) to the other instances. */
  publishSignal(envelope: SignalEnvelope, payload: string): Promise<void>;
  closed(connection: WsConnection): void;
  /** The streams of this user's recent erasure on this instance (its tombstones), for their `user` subscriptions. */
  erasedStreamsOf?(owner: string): readonly string[];
}

const OPEN = 1;

/**
 * The error a refused frame is answered with, without a stack trace: the answer never carries one,
 * and capturing it was the largest cost of refusing a frame (a flood of refused frames is the
 * attack these refusals answer).
 */
function frameError(...args: ConstructorParameters<typeof LakechatError>): LakechatError {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new LakechatError(...args);
  } finally {
    Error.stackTraceLimit = limit;
  }
}
/** How long a connection closed for flooding keeps its socket, unread, for the close frame to reach its client. */
const cutOffGraceMs = 250;
/** Chats a user's connections remember they may read and signal to, so a stream of deltas costs no lookup each. */
const maxAuthorizedChats = 256;

/**
 * One client's WebSocket. Each subscription pulls from the store's iterator only while the socket
 * has less than the send buffer cap waiting to be written: above it every subscription stops pulling,
 * so a slow client's backlog stays in the store (whose live tail detaches and later re-reads a member
 * that falls too far behind) rather than in this process. Staying above the cap longer than the stuck
 * timeout closes the connection (4001): the client reconnects and resumes from its last cursor.
 */
export class WsConnection {
  /** Answered the last heartbeat (or sent anything since). */
  alive = true;
  private framesSent = 0;
  private closing = false;
  private readonly outbox: Outbox;
  private readonly subscriptions = new Map<string, Subscription>();
  private readonly posts: TokenBucket;
  private readonly signals: TokenBucket;
  private readonly subscribes: TokenBucket;
  private readonly badFrames: TokenBucket;
  private readonly share: UserShare;

  constructor(
    readonly id: number,
    private readonly socket: WebSocket,
    /** The TCP socket under the WebSocket. */
    transport: Duplex | undefined,
    readonly identity: Identity,
    private readonly context: CommandContext,
    private readonly host: ConnectionHost,
  ) {
    const limits = host.limits;
    this.outbox = new Outbox(socket, transport, {
      capBytes: limits.sendBufferBytes,
      stuckTimeoutMs: limits.stuckTimeoutMs,
      onStuck: () => {
        // Never the email: logs outlive an erasure (docs/privacy.md).
        host.logger.info({ connection: this.id, bufferedBytes: socket.bufferedAmount }, 'closing a WebSocket client that stopped reading');
        this.close(closeReasons.slowConsumer);
      },
    });
    this.posts = new TokenBucket(limits.postsPerSecond, Math.max(1, limits.postsPerSecond));
    this.signals = new TokenBucket(limits.signalsPerSecond, Math.max(1, limits.signalsPerSecond));
    // A client that reconnects subscribes again to everything at once: the burst is the subscription cap.
    this.subscribes = new TokenBucket(limits.subscribesPerSecond, Math.max(1, limits.subscribesPerSecond, limits.maxSubscriptions));
    this.share = host.userShare(identity.email);
    this.badFrames = new TokenBucket(limits.badFramesPerSecond, limits.badFrameBurst);
    socket.on('message', (data, isBinary) => this.receive(data, isBinary));
    socket.on('pong', () => {
      this.alive = true;
    });
    socket.on('close', () => this.cleanUp());
  }

  get subscriptionCount(): number {
    return this.subscriptions.size;
  }

  get bufferedBytes(): number {
    return this.outbox.bufferedBytes;
  }

  get isPaused(): boolean {
    return this.outbox.paused;
  }

  /** Sends a heartbeat ping, or ends a connection that did not answer the previous one. */
  heartbeat(): void {
    if (this.socket.readyState !== OPEN) return;
    if (!this.alive) {
      this.close(closeReasons.heartbeatMissed);
      // A dead peer never completes the close handshake: free everything now (after handing the
      // close frame to the kernel, in case the peer is only slow).
      this.outbox.flush();
      this.socket.terminate();
      return;
    }
    this.alive = false;
    this.socket.ping();
  }

  close({ code, reason }: CloseReason): void {
    if (this.closing) return;
    this.closing = true;
    for (const subscription of this.subscriptions.values()) subscription.close();
    this.outbox.wakeAll();
    this.socket.close(code, reason);
  }

  terminate(): void {
    this.socket.terminate();
  }

  /** A signal for one of this connection's subscriptions; dropped while the client is behind. */
  deliverSignal(subscription: Subscription, envelope: SignalEnvelope): void {
    if (!subscription.live || subscription.closed) return;
    if (this.outbox.paused) {
      this.host.traffic.signalsDropped++;
      return;
    }
    if (envelope.instance === this.host.instanceId && envelope.connection === this.id) return;
    this.send(signalFrameFor(subscription.id, envelope));
  }

  private send(text: string): void {
    this.outbox.send(text);
    this.framesSent++;
    this.host.traffic.framesSent++;
  }

  private receive(data: Parameters<typeof parseClientFrame>[0], isBinary: boolean): void {
    this.alive = true;
    if (this.closing) return;
    const parsed = parseClientFrame(data, isBinary);
    if (!parsed.ok) {
      this.reject(parsed.error, parsed.id);
      return;
    }
    const frame = parsed.frame;
    switch (frame.type) {
      case 'ping':
        this.send(pongFrame(frame.id));
        return;
      case 'subscribe':
        void this.subscribe(frame);
        return;
      case 'unsubscribe':
        this.unsubscribe(frame);
        return;
      case 'post':
        void this.post(frame);
        return;
      case 'signal':
        void this.signal(frame);
        return;
    }
  }

  /** Answers a frame with an error; a client that keeps sending frames that fail is closed (1008). */
  private reject(error: unknown, id: string | undefined): void {
    if (!(error instanceof LakechatError) || error.statusCode >= 500) {
      const known = error instanceof LakechatError ? error : new LakechatError('LAKECHAT_ERR_WS_INTERNAL', undefined, { cause: error });
      if (!(error instanceof LakechatError)) this.host.logger.error({ err: error, connection: this.id }, 'WebSocket frame failed');
      this.send(errorFrame(known, id));
      return;
    }
    this.send(errorFrame(error, id));
    if (this.badFrames.take() > 0) this.cutOff(closeReasons.tooManyBadFrames);
  }

  /**
   * Closes a flooding connection without the close handshake: it reads nothing more (whatever the
   * client sent after is never parsed, which was most of what a flood of refused frames cost), and
   * drops the socket once the close frame had time to reach the client. A client that never
   * answers the close so holds no place of its user either.
   */
  private cutOff(reason: CloseReason): void {
    this.close(reason);
    this.outbox.flush();
    this.socket.pause();
    setTimeout(() => this.socket.terminate(), cutOffGraceMs).unref();
  }

  private async subscribe(frame: SubscribeFrame): Promise<void> {
    const { id, scope } = frame;
    // The connection's budget first, so a flooding connection does not spend its siblings' share.
    const waitMs = this.subscribes.take() || this.share.subscribes.take();
    if (waitMs > 0) return this.reject(frameError('LAKECHAT_ERR_WS_RATE_LIMITED', undefined, { details: { retryAfterMs: waitMs } }), id);
    if (this.subscriptions.has(id)) return this.reject(frameError('LAKECHAT_ERR_WS_DUPLICATE_SUBSCRIPTION'), id);
    if (this.subscriptions.size >= this.host.limits.maxSubscriptions) {
      return this.reject(frameError('LAKECHAT_ERR_WS_TOO_MANY_SUBSCRIPTIONS', undefined, { details: { max: this.host.limits.maxSubscriptions } }), id);
    }
    if (scope === 'all' && !this.identity.analyst) return this.reject(frameError('LAKECHAT_ERR_WS_FORBIDDEN_SCOPE'), id);
    const owner = this.identity.email;
    const streamId = frame.chatId === undefined ? undefined : this.host.chats.streamIdOf(owner, frame.chatId);
    const erased = scope === 'user' ? (this.host.erasedStreamsOf?.(owner) ?? []) : [];
    const subscription = new Subscription(this, id, scope, owner, streamId, erased);
    // Taken now, so the same id sent again while this one is being authorized is a duplicate.
    this.subscriptions.set(id, subscription);
    if (frame.chatId !== undefined) {
      let readable: boolean;
      try {
        readable = await this.authorize(frame.chatId);
      } catch (error) {
        this.forget(subscription);
        return this.reject(error, id);
      }
      if (subscription.closed) return;
      if (!readable) {
        this.forget(subscription);
        return this.reject(frameError('LAKECHAT_ERR_CHAT_NOT_FOUND'), id);
      }
    }
    this.host.subscribed(subscription);
    await this.pump(subscription, frame.after === undefined ? 'end' : frame.after);
  }

  /**
   * Feeds one subscription from the store, pulling only while the socket keeps up. The store reads
   * history in pages of at most `subscriptionPageBytes`, one of the user's `historyReadsPerUser`
   * turns at a time, and only when the previous page was sent: a paused subscription holds at most
   * one such page, and one that ends (unsubscribe, close) gives up its turn without reading.
   */
  private async pump(subscription: Subscription, after: string | null | 'end'): Promise<void> {
    let iterator: AsyncIterableIterator<RecordedEvent> | undefined;
    const limits = this.host.limits;
    try {
      if (typeof after === 'string' && after !== 'end') await this.host.store.checkCursor?.(after);
      iterator = this.host.store.subscribe({
        after,
        filter: subscription.filter,
        signal: subscription.controller.signal,
        maxPageBytes: limits.subscriptionPageBytes,
        maxQueuedBytes: limits.subscriptionQueueBytes,
        beforeRead: (signal) => this.share.historyReads.take(1, signal),
        onCaughtUp: (cursor) => {
          if (subscription.closed) return;
          subscription.live = true;
          this.send(caughtUpFrame(subscription.id, cursor));
        },
        onStoreChanged: () => {
          if (!subscription.closed) this.send(storeChangedFrame(subscription.id));
        },
      });
      for (;;) {
        while (this.outbox.paused && !subscription.closed) await this.outbox.drained();
        if (subscription.closed) break;
        const next = await iterator.next();
        if (next.done === true || subscription.closed) break;
        this.send(eventFrame(subscription.id, next.value));
      }
    } catch (error) {
      if (!subscription.closed) this.reject(error, subscription.id);
    } finally {
      this.forget(subscription);
      await iterator?.return?.(undefined);
    }
  }

  private unsubscribe(frame: UnsubscribeFrame): void {
    const subscription = this.subscriptions.get(frame.id);
    if (subscription === undefined) return this.reject(frameError('LAKECHAT_ERR_WS_UNKNOWN_SUBSCRIPTION'), frame.id);
    this.forget(subscription);
    this.outbox.wakeAll();
    this.send(unsubscribedFrame(frame.id));
  }

  private forget(subscription: Subscription): void {
    subscription.close();
    if (this.subscriptions.get(subscription.id) === subscription) this.subscriptions.delete(subscription.id);
    this.host.unsubscribed(subscription);
  }

  private async post(frame: PostFrame): Promise<void> {
    const waitMs = this.posts.take() || this.share.posts.take();
    if (waitMs > 0) return this.reject(frameError('LAKECHAT_ERR_WS_RATE_LIMITED', undefined, { details: { retryAfterMs: waitMs } }), frame.id);
    try {
      const posted = await this.host.chats.postMessage(this.context, frame.chatId, { role: frame.role, content: frame.content, clientMessageId: frame.id });
      this.send(
        ackFrame({
          id: frame.id,
          messageId: posted.message.messageId,
          position: posted.message.position,
          cursor: posted.cursor,
          version: posted.version,
          duplicate: posted.duplicate,
        }),
      );
    } catch (error) {
      this.reject(error, frame.id);
    }
  }

  private async signal(frame: SignalFrame): Promise<void> {
    // The connection's budget first, so a flooding connection does not spend its siblings' share.
    const waitMs = this.signals.take() || this.share.signals.take();
    if (waitMs > 0) return this.reject(frameError('LAKECHAT_ERR_WS_RATE_LIMITED', undefined, { details: { retryAfterMs: waitMs } }), frame.id);
    const owner = this.identity.email;
    const envelope: SignalEnvelope = {
      instance: this.host.instanceId,
      connection: this.id,
      owner,
      streamId: this.host.chats.streamIdOf(owner, frame.chatId),
      chatId: frame.chatId,
      kind: frame.kind,
      data: frame.data,
    };
    try {
      const payload = encodeSignal(envelope);
      if (!(await this.authorize(frame.chatId))) throw frameError('LAKECHAT_ERR_CHAT_NOT_FOUND');
      await this.host.publishSignal(envelope, payload);
    } catch (error) {
      this.reject(error, frame.id);
    }
  }

  private async authorize(chatId: string): Promise<boolean> {
    const { authorizedChats, authorizing } = this.share;
    if (authorizedChats.has(chatId)) return true;
    // Frames about one chat that arrive together, on any of the user's connections, share one
    // lookup: a burst of subscribes, signals or reconnects must not become a burst of queries.
    let pending = authorizing.get(chatId);
    if (pending === undefined) {
      pending = this.host.chatIsReadable(this.identity.email, chatId).finally(() => authorizing.delete(chatId));
      authorizing.set(chatId, pending);
    }
    const readable = await pending;
    if (readable && !authorizedChats.has(chatId)) {
      if (authorizedChats.size >= maxAuthorizedChats) authorizedChats.clear();
      authorizedChats.add(chatId);
    }
    return readable;
  }

  private cleanUp(): void {
    this.host.logger.debug({ connection: this.id, framesSent: this.framesSent }, 'WebSocket closed');
    this.closing = true;
    for (const subscription of [...this.subscriptions.values()]) this.forget(subscription);
    this.outbox.stop();
    this.host.closed(this);
  }
}

import { Backoff, type BackoffOptions } from './backoff.ts';
import { CursorGate } from './cursor-gate.ts';
import { LakechatClientError } from './errors.ts';
import { type Ack, Outbox, type OutboxStorage, type PendingPost } from './outbox.ts';
import { cancel, type FetchLike, later, pageOrigin, platformFetch, platformWebSocket, randomId, type TimerHandle, type WebSocketConstructor, type WebSocketLike } from './platform.ts';
import {
  type ClientFrame,
  closeCodeStops,
  type ErasedEvent,
  type ErrorFrame,
  invalidCursorCode,
  isErased,
  type LakechatEvent,
  type MessageRole,
  parseServerFrame,
  retryableCodes,
  type Scope,
  type SignalEventFrame,
  type SignalKind,
} from './protocol.ts';
import { ChatsApi, ProfileApi, Rest } from './rest.ts';

export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface LakechatClientOptions {
  /** The server, e.g. `http://localhost:8000`; in a browser, the page's own origin by default. */
  url?: string;
  /**
   * The demo identity (local development, ALLOW_DEMO_USER): sent as `X-Demo-User` over HTTP and as the
   * `user` query parameter on the WebSocket. Leave it out behind the Databricks Apps proxy.
   */
  user?: string;
  /** Extra HTTP headers for every REST call (a Node script's `Authorization`, say). */
  headers?: Record<string, string>;
  /** Where unacknowledged posts are kept (default: memory; `localStorageOutbox()` in a browser). */
  outbox?: OutboxStorage;
  /** Reconnection delays (full jitter): the first bound and the cap (default 250 ms and 10 s). */
  reconnect?: BackoffOptions;
  /** Send a ping after this long without any frame from the server (default 15 s). */
  heartbeatIntervalMs?: number;
  /** Declare the connection dead when nothing comes this long after the ping (default 10 s). */
  heartbeatTimeoutMs?: number;
  /** Give up on a connection attempt that has not opened after this long (default 10 s). */
  connectTimeoutMs?: number;
  /** Posts sent per second at most (default 10, the server's default WS_POSTS_PER_SECOND); 0: no pacing. */
  postsPerSecond?: number;
  /**
   * Posts of one chat in flight at once (default 1: they land in the order they were made). More is
   * faster for a script posting many; posts in flight together may then land in another order.
   */
  postsInFlightPerChat?: number;
  /** The WebSocket class (default: the platform's). */
  WebSocket?: WebSocketConstructor;
  /** The fetch function (default: the platform's). */
  fetch?: FetchLike;
}

export interface SubscribeOptions {
  scope: Scope;
  /** The chat, for the `chat` scope. */
  chatId?: string;
  /** A cursor to resume after; null: from the beginning of the scope; absent: live only, from now. */
  after?: string | null;
}

export interface SubscriptionHandlers {
  /** Each event once, in log order, across reconnections; an erased one goes to `onErased` instead. */
  onEvent?(event: LakechatEvent): void;
  /**
   * An event whose content was erased (a tombstone), in its place in the log: drop what you show of
   * it, by its `position`. Never passed to `onEvent`, whose data it does not have.
   */
  onErased?(event: ErasedEvent): void;
  /** The subscription reached the live edge (again after each reconnection). */
  onCaughtUp?(cursor: string | null): void;
  /** The server refused the cursor (another store, erased history): the scope restarts from its beginning. */
  onReset?(reason: LakechatClientError): void;
  /** A signal (typing, a streamed delta) from another connection, while live. */
  onSignal?(signal: SignalEventFrame): void;
  /** The subscription ended for good (the chat does not exist, a forbidden scope...). */
  onError?(error: LakechatClientError): void;
}

export interface Subscription {
  readonly id: string;
  /** Where the subscription resumes: the cursor of the last event delivered (else its starting point). */
  readonly cursor: string | null | undefined;
  /** Live: caught up on the current connection. */
  readonly live: boolean;
  close(): void;
}

export interface PostOptions {
  content: string;
  role?: MessageRole;
  /** The client message id (default: a new UUID). Reuse one to make a retry of your own land once. */
  clientMessageId?: string;
}

type Listeners = {
  state: (state: ConnectionState) => void;
  error: (error: LakechatClientError) => void;
  ack: (ack: Ack, post: PendingPost) => void;
};

const OPEN = 1;

class ClientSubscription implements Subscription {
  readonly gate = new CursorGate();
  live = false;
  closed = false;
  private caughtUpCursor: string | null | undefined;
  readonly retry = new Backoff({ initialDelayMs: 500, maxDelayMs: 30_000 });
  retryTimer: TimerHandle | undefined;

  constructor(
    readonly id: string,
    readonly scope: Scope,
    readonly chatId: string | undefined,
    private after: string | null | undefined,
    readonly handlers: SubscriptionHandlers,
    private readonly closeOnServer: (subscription: ClientSubscription) => void,
  ) {}

  get cursor(): string | null | undefined {
    return this.gate.lastCursor ?? this.caughtUpCursor ?? this.after;
  }

  /** Where to resume: after the last event delivered; a live-only subscription, after where it went live. */
  get resumeAfter(): string | null | undefined {
    return this.gate.lastCursor ?? (this.after === undefined ? this.caughtUpCursor : this.after);
  }

  caughtUp(cursor: string | null): void {
    this.live = true;
    this.caughtUpCursor = cursor;
    this.retry.reset();
  }

  reset(): void {
    this.gate.reset();
    this.after = null;
    this.caughtUpCursor = undefined;
    this.live = false;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.live = false;
    cancel(this.retryTimer);
    this.closeOnServer(this);
  }
}

/**
 * A lakechat client: one WebSocket for live subscriptions, posts and signals, reconnected by itself,
 * and the REST API. See docs/client.md.
 */
export class LakechatClient {
  readonly chats: ChatsApi;
  readonly profile: ProfileApi;
  private currentState: ConnectionState = 'connecting';
  private socket: WebSocketLike | null = null;
  private readonly subscriptions = new Map<string, ClientSubscription>();
  private nextSubscription = 1;
  private readonly outbox: Outbox;
  private readonly backoff: Backoff;
  private readonly listeners: { [K in keyof Listeners]: Set<Listeners[K]> } = { state: new Set(), error: new Set(), ack: new Set() };
  private readonly baseUrl: string;
  private readonly wsUrl: string;
  private reconnectTimer: TimerHandle | undefined;
  private connectTimer: TimerHandle | undefined;
  private heartbeatTimer: TimerHandle | undefined;
  private lastHeard = 0;
  private pingSentAt: number | null = null;
  /** The last error frame without an id: the reason of a refusal that a close follows. */
  private connectionError: ErrorFrame | null = null;
  private closedBy: LakechatClientError | null = null;
  /** Called once the socket closed by close() reported its close (or a second later). */
  private socketGone: (() => void) | null = null;
  private socketClosed: Promise<void> = Promise.resolve();
  private readonly heartbeatIntervalMs: number;
  private readonly heartbeatTimeoutMs: number;
  private readonly connectTimeoutMs: number;

  constructor(private readonly options: LakechatClientOptions = {}) {
    const url = options.url ?? pageOrigin();
    if (url === undefined) throw new Error('LakechatClient needs a url outside a browser page');
    this.baseUrl = url.replace(/\/+$/, '');
    const user = options.user === undefined || options.user === '' ? '' : `?user=${encodeURIComponent(options.user)}`;
    this.wsUrl = `${this.baseUrl.replace(/^http(s?):/i, 'ws$1:')}/ws${user}`;
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? 15_000;
    this.heartbeatTimeoutMs = options.heartbeatTimeoutMs ?? 10_000;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.backoff = new Backoff(options.reconnect);
    const rest = new Rest(
      this.baseUrl,
      () => ({ ...options.headers, ...(options.user === undefined || options.user === '' ? {} : { 'x-demo-user': options.user }) }),
      () => options.fetch ?? platformFetch(),
    );
    this.chats = new ChatsApi(rest);
    this.profile = new ProfileApi(rest);
    this.outbox = new Outbox({
      ...(options.outbox === undefined ? {} : { storage: options.outbox }),
      ...(options.postsPerSecond === undefined ? {} : { postsPerSecond: options.postsPerSecond }),
      ...(options.postsInFlightPerChat === undefined ? {} : { postsInFlightPerChat: options.postsInFlightPerChat }),
      retry: { initialDelayMs: 250, maxDelayMs: 10_000 },
      send: (frame) => this.send(frame),
      onAck: (post, ack) => this.emit('ack', ack, post),
      onFailure: (_post, error) => this.emit('error', error),
    });
    this.connect();
  }

  get state(): ConnectionState {
    return this.currentState;
  }

  /** Posts not yet acknowledged (those restored from the outbox's storage included). */
  get pendingPosts(): PendingPost[] {
    return this.outbox.pending;
  }

  /** Listens to `state` changes, `error`s nobody else was told about, and every `ack`; returns the unsubscribe function. */
  on<K extends keyof Listeners>(event: K, listener: Listeners[K]): () => void {
    const set = this.listeners[event] as Set<Listeners[K]>;
    set.add(listener);
    return () => set.delete(listener);
  }

  subscribe(options: SubscribeOptions, handlers: SubscriptionHandlers = {}): Subscription {
    const id = `s${this.nextSubscription++}`;
    const subscription = new ClientSubscription(id, options.scope, options.chatId, options.after, handlers, (closing) => {
      if (this.subscriptions.get(closing.id) !== closing) return;
      this.subscriptions.delete(closing.id);
      this.send({ type: 'unsubscribe', id: closing.id });
    });
    if (this.closedBy !== null) {
      subscription.closed = true;
      return subscription;
    }
    this.subscriptions.set(id, subscription);
    this.sendSubscribe(subscription);
    return subscription;
  }

  /** Resolves with the server's ack once the message is stored, exactly once, however often the connection drops. */
  post(chatId: string, message: PostOptions): Promise<Ack> {
    const post: PendingPost = {
      id: message.clientMessageId ?? randomId(),
      chatId,
      content: message.content,
      role: message.role ?? 'user',
      createdAt: new Date().toISOString(),
    };
    return this.outbox.post(post);
  }

  /** An ephemeral signal to the chat's other live subscribers; dropped (false) while disconnected. */
  signal(chatId: string, kind: SignalKind, data: Record<string, unknown> = {}): boolean {
    return this.send({ type: 'signal', chatId, kind, data });
  }

  /** Closes the connection for good; posts still waiting are rejected (and stay in a persistent outbox). */
  async close(): Promise<void> {
    this.stop(new LakechatClientError('LAKECHAT_CLIENT_CLOSED', 'The client is closed'), 1000);
    await this.socketClosed;
  }

  // ---- the connection ---------------------------------------------------------------------------

  private connect(): void {
    if (this.closedBy !== null) return;
    const WebSocketClass = this.options.WebSocket ?? platformWebSocket();
    const socket = new WebSocketClass(this.wsUrl);
    this.socket = socket;
    this.connectionError = null;
    this.connectTimer = later(() => this.abandon(socket), this.connectTimeoutMs);
    socket.onopen = () => {
      if (this.socket !== socket) return;
      cancel(this.connectTimer);
      this.backoff.reset();
      this.heard();
      this.setState('open');
      for (const subscription of this.subscriptions.values()) this.sendSubscribe(subscription);
      this.outbox.connected();
    };
    socket.onmessage = (message) => {
      if (this.socket !== socket) return;
      this.heard();
      const frame = parseServerFrame(message.data);
      if (frame !== null) this.receive(frame);
    };
    socket.onclose = (event) => {
      if (this.closedBy !== null) this.socketGone?.();
      if (this.socket !== socket) return;
      this.lost(event.code, event.reason);
    };
    socket.onerror = () => undefined; // a close event follows
  }

  /** The connection went away: resume (with backoff), or stop on a "do not reconnect" code. */
  private lost(code: number, reason: string): void {
    this.detach();
    if (this.closedBy !== null) return;
    if (closeCodeStops(code)) {
      const frame = this.connectionError;
      const error =
        frame !== null && (reason === '' || frame.code === reason)
          ? new LakechatClientError(frame.code, frame.message, { closeCode: code, ...(frame.details === undefined ? {} : { details: frame.details }) })
          : new LakechatClientError(
              reason || 'LAKECHAT_CLIENT_CONNECTION_REFUSED',
              `The server closed the connection (${code}${reason === '' ? '' : ` ${reason}`}) and asked not to reconnect`,
              { closeCode: code },
            );
      this.stop(error, undefined);
      this.emit('error', error);
      return;
    }
    this.setState('reconnecting');
    this.reconnectTimer = later(() => {
      this.reconnectTimer = undefined;
      this.connect();
    }, this.backoff.next());
  }

  /** A connection that cannot be trusted (no answer, no open): let it go and reconnect. */
  private abandon(socket: WebSocketLike): void {
    if (this.socket !== socket) return;
    socket.onopen = socket.onmessage = socket.onclose = null;
    try {
      socket.close(4000, 'unresponsive');
    } catch {
      // closing a socket that never opened can throw on some platforms; it is dropped either way
    }
    this.lost(1006, '');
  }

  private detach(): void {
    this.socket = null;
    cancel(this.connectTimer);
    cancel(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
    this.pingSentAt = null;
    for (const subscription of this.subscriptions.values()) {
      subscription.live = false;
      cancel(subscription.retryTimer);
    }
    this.outbox.disconnected();
  }

  private stop(error: LakechatClientError, closeCode: number | undefined): void {
    if (this.closedBy !== null) return;
    this.closedBy = error;
    cancel(this.reconnectTimer);
    const socket = this.socket;
    this.detach();
    if (socket !== null && closeCode !== undefined) {
      this.socketClosed = new Promise<void>((resolve) => (this.socketGone = resolve));
      try {
        socket.close(closeCode);
      } catch {
        this.socketGone?.();
      }
      // A socket whose peer is gone may never report its close: do not wait for it long.
      later(() => this.socketGone?.(), 1_000);
    }
    for (const subscription of this.subscriptions.values()) {
      subscription.closed = true;
      cancel(subscription.retryTimer);
    }
    this.subscriptions.clear();
    this.outbox.close(error);
    this.setState('closed');
  }

  /** Frames received: any of them proves the connection alive. */
  private heard(): void {
    this.lastHeard = Date.now();
    this.pingSentAt = null;
    if (this.heartbeatTimer === undefined) this.scheduleHeartbeat(this.heartbeatIntervalMs);
  }

  /**
   * Browsers cannot see WebSocket pings, so liveness is checked with the protocol's own ping: after
   * `heartbeatIntervalMs` without a frame, send one; nothing within `heartbeatTimeoutMs`: dead.
   */
  private scheduleHeartbeat(ms: number): void {
    this.heartbeatTimer = later(
      () => {
        this.heartbeatTimer = undefined;
        const socket = this.socket;
        if (socket === null || socket.readyState !== OPEN) return;
        const now = Date.now();
        if (this.pingSentAt !== null) {
          const waited = now - this.pingSentAt;
          if (waited >= this.heartbeatTimeoutMs) return this.abandon(socket);
          return this.scheduleHeartbeat(this.heartbeatTimeoutMs - waited);
        }
        const idle = now - this.lastHeard;
        if (idle < this.heartbeatIntervalMs) return this.scheduleHeartbeat(this.heartbeatIntervalMs - idle);
        this.send({ type: 'ping' });
        this.pingSentAt = now;
        this.scheduleHeartbeat(this.heartbeatTimeoutMs);
      },
      Math.max(1, ms),
    );
  }

  private send(frame: ClientFrame): boolean {
    const socket = this.socket;
    if (socket === null || socket.readyState !== OPEN) return false;
    try {
      socket.send(JSON.stringify(frame));
      return true;
    } catch {
      return false; // the close event follows
    }
  }

  private sendSubscribe(subscription: ClientSubscription): void {
    const after = subscription.resumeAfter;
    this.send({
      type: 'subscribe',
      id: subscription.id,
      scope: subscription.scope,
      ...(subscription.chatId === undefined ? {} : { chatId: subscription.chatId }),
      ...(after === undefined ? {} : { after }),
    });
  }

  // ---- frames from the server ------------------------------------------------------------------

  private receive(frame: NonNullable<ReturnType<typeof parseServerFrame>>): void {
    switch (frame.type) {
      case 'event': {
        const subscription = this.subscriptions.get(frame.subscription);
        if (subscription === undefined || !subscription.gate.admit(frame.cursor)) return;
        if (isErased(frame)) this.deliver(() => subscription.handlers.onErased?.(frame));
        else this.deliver(() => subscription.handlers.onEvent?.(frame));
        return;
      }
      case 'caught_up': {
        const subscription = this.subscriptions.get(frame.subscription);
        if (subscription === undefined) return;
        subscription.caughtUp(frame.cursor);
        this.deliver(() => subscription.handlers.onCaughtUp?.(frame.cursor));
        return;
      }
      case 'signal': {
        const subscription = this.subscriptions.get(frame.subscription);
        if (subscription !== undefined) this.deliver(() => subscription.handlers.onSignal?.(frame));
        return;
      }
      case 'ack':
        this.outbox.acked(frame);
        return;
      case 'error':
        this.receiveError(frame);
        return;
      default:
        return; // pong, unsubscribed: their arrival is all that counts
    }
  }

  private receiveError(frame: ErrorFrame): void {
    const subscription = frame.id === undefined ? undefined : this.subscriptions.get(frame.id);
    if (subscription !== undefined) return this.subscriptionFailed(subscription, frame);
    if (this.outbox.failed(frame)) return;
    if (frame.id === undefined) {
      // A refusal of the connection comes as an error frame, then a close: report it once, with the close.
      this.connectionError = frame;
      if (closingCodes.has(frame.code)) return;
    }
    this.emit('error', new LakechatClientError(frame.code, frame.message, frame.details === undefined ? {} : { details: frame.details }));
  }

  private subscriptionFailed(subscription: ClientSubscription, frame: ErrorFrame): void {
    const error = new LakechatClientError(frame.code, frame.message, frame.details === undefined ? {} : { details: frame.details });
    if (frame.code === invalidCursorCode) {
      // The cursor is not one this store issued (it moved store, or the history was erased): start over.
      subscription.reset();
      this.deliver(() => subscription.handlers.onReset?.(error));
      if (!subscription.closed) this.sendSubscribe(subscription);
      return;
    }
    if (retryableCodes.includes(frame.code)) {
      subscription.retryTimer = later(() => {
        if (!subscription.closed && this.subscriptions.get(subscription.id) === subscription) this.sendSubscribe(subscription);
      }, subscription.retry.next());
      return;
    }
    subscription.closed = true;
    this.subscriptions.delete(subscription.id);
    if (subscription.handlers.onError !== undefined) this.deliver(() => subscription.handlers.onError?.(error));
    else this.emit('error', error);
  }

  /** A handler that throws must not break the client's own bookkeeping. */
  private deliver(call: () => void): void {
    try {
      call();
    } catch (error) {
      later(() => {
        throw error; // reported as the platform reports an uncaught error, after the client's work is done
      }, 0);
    }
  }

  private setState(state: ConnectionState): void {
    if (this.currentState === state) return;
    this.currentState = state;
    for (const listener of this.listeners.state) this.deliver(() => listener(state));
  }

  private emit<K extends keyof Listeners>(event: K, ...args: Parameters<Listeners[K]>): void {
    for (const listener of this.listeners[event]) this.deliver(() => (listener as (...values: Parameters<Listeners[K]>) => void)(...args));
  }
}

/** Error codes the server sends just before closing the connection with them as the reason. */
const closingCodes = new Set([
  'LAKECHAT_ERR_AUTH_MISSING_IDENTITY',
  'LAKECHAT_ERR_AUTH_INVALID_IDENTITY',
  'LAKECHAT_ERR_WS_FORBIDDEN_ORIGIN',
  'LAKECHAT_ERR_WS_TOO_MANY_CONNECTIONS',
  'LAKECHAT_ERR_WS_TOO_MANY_BAD_FRAMES',
]);

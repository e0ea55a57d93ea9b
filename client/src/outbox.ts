import { Backoff, type BackoffOptions } from './backoff.ts';
import { LakechatClientError } from './errors.ts';
import { cancel, later, platformLocalStorage, type StorageLike, type TimerHandle } from './platform.ts';
import { type AckFrame, type ErrorFrame, type MessageRole, type PostFrame, retryableCodes } from './protocol.ts';

/** A post not yet acknowledged by the server. Its `id` is the client message id, the same on every attempt. */
export interface PendingPost {
  id: string;
  chatId: string;
  content: string;
  role: MessageRole;
  /** When post() was called (ISO 8601). */
  createdAt: string;
}

/**
 * Where the outbox keeps its posts until they are acknowledged. A store that outlives the page (or the
 * process) lets the next client deliver what the last one could not; the server's idempotency makes a
 * post sent by both land once.
 */
export interface OutboxStorage {
  load(): PendingPost[] | Promise<PendingPost[]>;
  add(post: PendingPost): void | Promise<void>;
  remove(id: string): void | Promise<void>;
}

/** The default: posts live as long as the client. */
export function memoryOutbox(): OutboxStorage {
  return { load: () => [], add: () => undefined, remove: () => undefined };
}

/**
 * Keeps the outbox in the browser's localStorage under `key` (one key per user: posts are sent as the
 * client's user). Each change reads, edits and writes the list, so tabs sharing the key add and remove
 * their own posts without erasing each other's.
 */
export function localStorageOutbox(options: { key?: string; storage?: StorageLike } = {}): OutboxStorage {
  const key = options.key ?? 'lakechat.outbox';
  const storage = options.storage ?? platformLocalStorage();
  const read = (): PendingPost[] => {
    if (storage === undefined) return [];
    try {
      const value: unknown = JSON.parse(storage.getItem(key) ?? '[]');
      return Array.isArray(value) ? value.filter(isPendingPost) : [];
    } catch {
      return [];
    }
  };
  const write = (posts: PendingPost[]): void => {
    if (storage === undefined) return;
    try {
      if (posts.length === 0) storage.removeItem(key);
      else storage.setItem(key, JSON.stringify(posts));
    } catch {
      // storage full or refused: the post still goes out, it just would not survive a reload
    }
  };
  return {
    load: read,
    add(post) {
      const posts = read().filter((other) => other.id !== post.id);
      write([...posts, post]);
    },
    remove(id) {
      write(read().filter((post) => post.id !== id));
    },
  };
}

function isPendingPost(value: unknown): value is PendingPost {
  if (typeof value !== 'object' || value === null) return false;
  const post = value as Record<string, unknown>;
  return typeof post.id === 'string' && typeof post.chatId === 'string' && typeof post.content === 'string' && typeof post.role === 'string';
}

export type Ack = Omit<AckFrame, 'type'>;

export interface OutboxOptions {
  storage?: OutboxStorage;
  /** Posts sent per second at most (default 10, the server's WS_POSTS_PER_SECOND default); 0: no pacing. */
  postsPerSecond?: number;
  /**
   * Posts of one chat sent before the first is acknowledged (default 1: they land in the order they
   * were made). More sends faster, but posts in flight together may land in another order.
   */
  postsInFlightPerChat?: number;
  /** The delays before posts are sent again, after a lost connection or a retryable error. */
  retry?: BackoffOptions;
  /** Sends a frame on the open connection. */
  send(frame: PostFrame): void;
  /** An acknowledgement, for every post (those restored from storage included). */
  onAck?(post: PendingPost, ack: Ack): void;
  /** A post refused for good that nobody waits for (one restored from storage). */
  onFailure?(post: PendingPost, error: LakechatClientError): void;
}

interface Entry {
  post: PendingPost;
  /** Sent on the current connection, waiting for its answer. */
  sent: boolean;
  /** Not before this time (ms since the epoch): a resend's backoff. */
  notBefore: number;
  /** The backoff of retries after error answers to this post. */
  retry: Backoff;
  waiters: { resolve(ack: Ack): void; reject(error: unknown): void }[];
}

/**
 * Posts until the server acknowledges them. Each chat's posts go out one at a time (by default), in the
 * order they were made, so they land in that order; a post whose connection dropped before its ack is sent again
 * with the same client message id on the next connection, and the server acks the original.
 */
export class Outbox {
  private readonly entries = new Map<string, Entry>();
  private readonly storage: OutboxStorage;
  private readonly perSecond: number;
  private readonly window: number;
  /**
   * Posts of a chat sent at once now: postsInFlightPerChat, down to 1 after a connection lost with
   * posts in flight, and up by one per ack. Each resend of a lost post is work the server does again
   * (it finishes the lost attempts too); resending a whole window on every short-lived connection
   * piles up more of it than the server clears, until no answer comes back before the next cut.
   */
  private inFlightLimit: number;
  /**
   * The backoff of resends after lost connections: one for the outbox, one step per connection lost
   * with posts in flight, back to the first bound at each ack. An ack proves the server keeps up, so
   * only losses without any ack in between make the delay grow.
   */
  private readonly resend: Backoff;
  private tokens: number;
  private tokensAt = Date.now();
  private pausedUntil = 0;
  private open = false;
  private loaded = false;
  private stopped: LakechatClientError | null = null;
  private timer: TimerHandle | undefined;
  private timerAt = Infinity;
  readonly ready: Promise<void>;

  constructor(private readonly options: OutboxOptions) {
    const storage = options.storage ?? memoryOutbox();
    this.storage = storage;
    this.perSecond = Math.max(0, options.postsPerSecond ?? 10);
    this.window = Math.max(1, options.postsInFlightPerChat ?? 1);
    this.inFlightLimit = this.window;
    this.resend = new Backoff(options.retry);
    this.tokens = Math.max(1, this.perSecond);
    this.ready = (async () => {
      try {
        for (const post of await storage.load()) this.entries.set(post.id, this.entry(post));
      } catch {
        // an unreadable storage costs what it held, never the posts made from now on
      } finally {
        this.loaded = true;
        this.pump();
      }
    })();
  }

  /** Posts waiting for their ack. */
  get pending(): PendingPost[] {
    return [...this.entries.values()].map((entry) => entry.post);
  }

  post(post: PendingPost): Promise<Ack> {
    if (this.stopped !== null) return Promise.reject(this.stopped);
    let entry = this.entries.get(post.id);
    if (entry === undefined) {
      entry = this.entry(post);
      this.entries.set(post.id, entry);
      void this.persist(() => this.storage.add(post));
    }
    const waiting = entry;
    const acked = new Promise<Ack>((resolve, reject) => waiting.waiters.push({ resolve, reject }));
    this.pump();
    return acked;
  }

  /** The connection is open: send what waits. */
  connected(): void {
    this.open = true;
    this.pump();
  }

  /**
   * The connection is gone: whatever was in flight goes again on a later one, the oldest of each chat
   * first, after a backoff that grows with each loss without an ack in between. The server may still
   * be working on the lost attempts (it finishes posts of closed connections), so resending at once on
   * every short-lived connection would only pile up duplicates in front of the chat.
   */
  disconnected(): void {
    this.open = false;
    const inFlight = [...this.entries.values()].filter((entry) => entry.sent);
    if (inFlight.length > 0) {
      const notBefore = Date.now() + this.resend.next();
      for (const entry of inFlight) entry.notBefore = Math.max(entry.notBefore, notBefore);
      this.inFlightLimit = 1;
    }
    for (const entry of this.entries.values()) entry.sent = false;
    this.tokens = Math.max(1, this.perSecond); // the server's budget is per connection
  }

  /** An ack from the server; false when it answers no post of this outbox. */
  acked(frame: AckFrame): boolean {
    const entry = this.entries.get(frame.id);
    if (entry === undefined) return false;
    this.entries.delete(frame.id);
    this.resend.reset();
    this.inFlightLimit = Math.min(this.window, this.inFlightLimit + 1);
    void this.persist(() => this.storage.remove(frame.id));
    const { type: _type, ...ack } = frame;
    for (const waiter of entry.waiters) waiter.resolve(ack);
    this.options.onAck?.(entry.post, ack);
    this.pump();
    return true;
  }

  /** An error frame carrying a post's id; false when it answers no post of this outbox. */
  failed(frame: ErrorFrame): boolean {
    const entry = this.entries.get(frame.id ?? '');
    if (entry === undefined) return false;
    entry.sent = false;
    const now = Date.now();
    if (frame.code === 'LAKECHAT_ERR_WS_RATE_LIMITED') {
      const wait = Number(frame.details?.retryAfterMs);
      this.pausedUntil = now + (Number.isFinite(wait) && wait > 0 ? wait : 1_000);
    } else if (retryableCodes.includes(frame.code)) {
      entry.notBefore = now + entry.retry.next();
    } else {
      this.entries.delete(entry.post.id);
      void this.persist(() => this.storage.remove(entry.post.id));
      const error = new LakechatClientError(frame.code, frame.message, frame.details === undefined ? {} : { details: frame.details });
      if (entry.waiters.length === 0) this.options.onFailure?.(entry.post, error);
      for (const waiter of entry.waiters) waiter.reject(error);
    }
    this.pump();
    return true;
  }

  /** The client is closed: every post still waiting is rejected, and stays in storage for a later client. */
  close(error: LakechatClientError): void {
    this.stopped = error;
    this.open = false;
    cancel(this.timer);
    this.timer = undefined;
    for (const entry of this.entries.values()) for (const waiter of entry.waiters.splice(0)) waiter.reject(error);
  }

  private entry(post: PendingPost): Entry {
    return { post, sent: false, notBefore: 0, retry: new Backoff(this.options.retry), waiters: [] };
  }

  private async persist(change: () => void | Promise<void>): Promise<void> {
    try {
      await change();
    } catch {
      // a storage that fails costs durability across reloads, never the post itself
    }
  }

  /** Sends the first posts of each chat (up to the in-flight limit) when due and the pace allows. */
  private pump(): void {
    if (!this.open || !this.loaded || this.stopped !== null) return;
    const now = Date.now();
    if (now < this.pausedUntil) return this.wakeAt(this.pausedUntil);
    const heads = new Map<string, number>();
    for (const entry of this.entries.values()) {
      const ahead = heads.get(entry.post.chatId) ?? 0;
      if (ahead >= this.inFlightLimit) continue;
      heads.set(entry.post.chatId, ahead + 1);
      if (entry.sent) continue;
      if (entry.notBefore > now) {
        this.wakeAt(entry.notBefore);
        continue;
      }
      const wait = this.takeToken(now);
      if (wait > 0) return this.wakeAt(now + wait);
      entry.sent = true;
      const { id, chatId, content, role } = entry.post;
      this.options.send({ type: 'post', id, chatId, content, role });
    }
  }

  /** 0 when a post may go now, else the ms until it may. */
  private takeToken(now: number): number {
    if (this.perSecond === 0) return 0;
    this.tokens = Math.min(this.perSecond, this.tokens + ((now - this.tokensAt) / 1_000) * this.perSecond);
    this.tokensAt = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.tokens) / this.perSecond) * 1_000);
  }

  private wakeAt(at: number): void {
    if (this.timer !== undefined && this.timerAt <= at) return;
    cancel(this.timer);
    this.timerAt = at;
    this.timer = later(
      () => {
        this.timer = undefined;
        this.timerAt = Infinity;
        this.pump();
      },
      Math.max(0, at - Date.now()),
    );
  }
}

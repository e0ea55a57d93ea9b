/**
 * The event store contract. Two implementations honour it identically (PostgreSQL and memory);
 * test/event-store/contract.ts is the specification both run.
 */
import type { AppendSteps } from './postgres/append-steps.ts';
import type { EraseOptions, EraseResult, EraseSelection } from './tombstone.ts';

/** The version a stream must be at for an append to proceed. */
export type ExpectedVersion =
  | number // exactly this version (0 means the stream does not exist yet)
  | 'any'
  | 'no_stream'
  | 'stream_exists';

export interface EventMetadata {
  correlationId?: string;
  causationId?: string;
  /** Who acted: a user's email or a service principal's id. */
  actor?: string;
  /** The client that sent the command (user agent, script name...). */
  client?: string;
  [key: string]: unknown;
}

/** An event to append. */
export interface NewEvent {
  /** Unique across the store; appending an id already stored is idempotent. Generated when absent. */
  eventId?: string;
  type: string;
  /** Version of the `data` schema, so readers can upcast old events. Defaults to 1. */
  schemaVersion?: number;
  data: Record<string, unknown>;
  metadata?: EventMetadata;
}

/** An event as stored. */
export interface RecordedEvent {
  /** Global position: unique and increasing in commit order of its transaction's id, not gap-free. */
  position: number;
  /** Opaque resume token; pass it as `after` to continue right after this event. */
  cursor: string;
  streamId: string;
  /** 1, 2, 3... within the stream. */
  version: number;
  eventId: string;
  type: string;
  schemaVersion: number;
  data: Record<string, unknown>;
  metadata: EventMetadata;
  /** The user the stream belongs to, if any. */
  owner: string | null;
  recordedAt: Date;
}

export interface AppendOptions {
  expectedVersion?: ExpectedVersion;
  /** The user the stream belongs to; stored on every event so per-user reads are index scans. */
  owner?: string | null;
}

export interface AppendedEvent {
  eventId: string;
  position: number;
  version: number;
  cursor: string;
  /** When it was recorded (absent on an idempotent retry's originals, when the store did not read it). */
  recordedAt?: Date;
}

export interface AppendResult {
  streamId: string;
  /** The stream's version after the append: the version to expect next time. */
  nextExpectedVersion: number;
  /** The appended events, in order; on an idempotent retry, the originals. */
  events: AppendedEvent[];
  /** The cursor of the last event appended. */
  cursor: string;
  /** True when every event id was already stored and nothing was written. */
  duplicate: boolean;
}

export interface ReadStreamOptions {
  /** First version to return (forwards) or last (backwards). */
  fromVersion?: number;
  limit?: number;
  direction?: 'forwards' | 'backwards';
}

export interface ReadStreamResult {
  streamId: string;
  /** The stream's current version, 0 when it does not exist. */
  version: number;
  events: RecordedEvent[];
}

/** Narrows a read of the whole log. All given criteria must hold. */
export interface EventFilter {
  types?: readonly string[];
  owner?: string;
  streamId?: string;
  /** Streams whose id starts with this prefix (e.g. "chat-"). */
  streamPrefix?: string;
  /**
   * Also the events of these streams, whatever `owner`, `streamId` and `streamPrefix` say (the other
   * criteria still hold): a user's subscription also reads the tombstones of that user's recent
   * erasure, in the streams it renamed (docs/privacy.md).
   */
  alsoStreamIds?: readonly string[];
  /** Events at this position or later. Positions are not the reader order: this narrows, it does not seek. */
  fromPosition?: number;
  /** Events at this position or earlier. */
  toPosition?: number;
  /** Events recorded at or after this time. */
  since?: Date;
  /** Events recorded before this time (so `since`/`until` windows tile without overlap). */
  until?: Date;
}

export interface ReadAllOptions extends EventFilter {
  /** Resume after this cursor; null or absent reads from the beginning. */
  after?: string | null;
  limit?: number;
  /**
   * Cut the page before its events' data (as JSON text) would pass this many bytes; the first event
   * is always returned. A page cut this way says `truncated` and ends at its last event's cursor,
   * like a full page: read on from there.
   */
  maxBytes?: number;
}

export interface ReadAllResult {
  events: RecordedEvent[];
  /** Where the next read resumes: the last event's cursor, or `after` when nothing was read. */
  cursor: string | null;
  /** The page was cut by `maxBytes`: more events may follow even though it holds fewer than `limit`. */
  truncated?: boolean;
}

export interface SubscribeOptions {
  /**
   * Where to start: a cursor, null for the very beginning, or 'end' (the default) for live only:
   * events appended after the subscription started.
   */
  after?: string | null | 'end';
  filter?: EventFilter;
  /**
   * Called once, between the last event of the catch-up and the first live one, with the cursor
   * reached. Runs inside the iterator's `next()`, so it is ordered with the events.
   */
  onCaughtUp?: (cursor: string | null) => void;
  /** Aborting ends the iteration; the iterator returns normally. */
  signal?: AbortSignal;
  /**
   * Called when the instance moved from its memory fallback to PostgreSQL under this subscription:
   * the events go on (each once), and their cursors are PostgreSQL's from here.
   */
  onStoreChanged?: () => void;
  /** Catch-up pages are cut at this many bytes of event data (`ReadAllOptions.maxBytes`): what a paused subscriber holds. */
  maxPageBytes?: number;
  /** A live subscriber with more than this many bytes of events queued is detached and catches up from the store later. */
  maxQueuedBytes?: number;
  /**
   * Awaited before each catch-up read; the read starts once it resolves and calls the function it
   * resolved with when done. Lets a caller bound concurrent history reads (per user, say). Should
   * settle when `signal` aborts; the iteration then ends without reading.
   */
  beforeRead?: (signal: AbortSignal | undefined) => Promise<() => void>;
}

export interface EventStore {
  readonly kind: 'postgres' | 'memory';
  /** The name this store gives itself in its cursors (`tx-position.name`); null or absent: bare cursors. */
  readonly storeId?: string | null;
  /**
   * Rewrites the selected events in place as tombstones (src/event-store/tombstone.ts), in short
   * batches, until none is left; live readers holding an erased event get the tombstone instead.
   */
  erase?(selection: EraseSelection, options: EraseOptions): Promise<EraseResult>;
  append(streamId: string, events: readonly NewEvent[], options?: AppendOptions): Promise<AppendResult>;
  readStream(streamId: string, options?: ReadStreamOptions): Promise<ReadStreamResult>;
  readAll(options?: ReadAllOptions): Promise<ReadAllResult>;
  /**
   * Throws LAKECHAT_ERR_STORE_INVALID_CURSOR for a cursor from a client that this store cannot have
   * issued (another store's, or beyond the head). Called where cursors come in (HTTP, WebSocket).
   */
  checkCursor?(cursor: string): Promise<void>;
  /**
   * Read models this store's appends apply in their own statements from now on (undefined: none).
   * PostgreSQL only; the projection runner's room makes the steps (src/projection-runner/in-append.ts).
   */
  projectInAppend?(steps: AppendSteps | undefined): void;
  /** The cursor of the newest event any reader can see now (null on an empty log). */
  headCursor(): Promise<string | null>;
  /** Catch up from `after`, then follow live: no gap and no duplicate between the two. */
  subscribe(options?: SubscribeOptions): AsyncIterableIterator<RecordedEvent>;
  close(): Promise<void>;
}

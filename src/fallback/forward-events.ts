import { type CommonQueryMethods, sql } from 'slonik';
import { type ChatState, chatStreamPrefix, decideChat, evolveChat, initialChatState, MessagePosted, parseChatEvent } from '../chats/index.ts';
import { isLakechatError } from '../errors.ts';
import { decodeCursor, type EventStore, isTombstone, type MemoryEventStore, maxCursor, type NewEvent, type RecordedEvent, WrongExpectedVersionError } from '../event-store/index.ts';
import type { Logger } from '../logger.ts';

export interface ForwardCounts {
  /** Events appended to PostgreSQL as they were (or found there already: event ids make it idempotent). */
  forwarded: number;
  /** Message posts whose chat had moved on in PostgreSQL, posted again at the chat's current version. */
  redecided: number;
  /** Events neither: recorded in fallback_parked_events. */
  parked: number;
}

const pageSize = 1_000;
const redecideAttempts = 5;

/** What an event is forwarded as: itself, or (a user under erasure here) its tombstone. */
export type ForwardedForm = (event: RecordedEvent) => Promise<RecordedEvent>;

const erasedByOwner = (event: RecordedEvent): boolean => event.owner === null && isTombstone(event.data);

function asNew(event: RecordedEvent): NewEvent {
  return { eventId: event.eventId, type: event.type, schemaVersion: event.schemaVersion, data: event.data, metadata: event.metadata };
}

/** The memory log's appends, in order: events of one append share their transaction (and stream). */
function appendsOf(events: readonly RecordedEvent[]): RecordedEvent[][] {
  const groups: RecordedEvent[][] = [];
  let tx: bigint | undefined;
  for (const event of events) {
    const eventTx = decodeCursor(event.cursor).tx;
    if (eventTx === tx) groups[groups.length - 1]!.push(event);
    else groups.push([event]);
    tx = eventTx;
  }
  return groups;
}

async function chatStateOf(store: EventStore, streamId: string): Promise<ChatState> {
  let state = initialChatState;
  for (;;) {
    const page = await store.readStream(streamId, { fromVersion: state.version + 1, limit: 10_000 });
    for (const recorded of page.events) {
      const event = parseChatEvent(recorded);
      state = event === null ? { ...state, version: state.version + 1 } : evolveChat(state, event);
    }
    if (page.events.length === 0 || state.version >= page.version) return state;
  }
}

/**
 * Copies the memory log into the PostgreSQL log, append by append, in order, each with the version it
 * had: an append that fails because its stream moved on in PostgreSQL (another instance wrote to it)
 * is decided again where the domain allows it (a message post, when the chat exists and is not
 * deleted: posted again after the chat's current messages, same message and event id), otherwise
 * parked. Idempotent: running it again after a failure appends nothing twice.
 */
export class Forwarder {
  readonly counts: ForwardCounts = { forwarded: 0, redecided: 0, parked: 0 };
  /** The memory cursor of the last event handled. */
  private after: string | null = null;
  /** The PostgreSQL cursor of the last event appended. */
  private lastCursor: string | null = null;

  constructor(
    private readonly memory: MemoryEventStore,
    private readonly target: EventStore,
    private readonly db: CommonQueryMethods,
    private readonly logger: Logger,
    private readonly forwardedForm: ForwardedForm = async (event) => event,
  ) {}

  /** The PostgreSQL cursor past every forwarded event (null when none was). */
  get forwardedUntil(): string | null {
    return this.lastCursor;
  }

  /** Forwards everything the memory log holds that was not forwarded yet. */
  async forwardAll(): Promise<void> {
    for (;;) {
      const page = await this.memory.readAll({ after: this.after, limit: pageSize });
      if (page.events.length === 0) return;
      for (const append of appendsOf(page.events)) {
        await this.forwardAppend(await Promise.all(append.map(this.forwardedForm)));
        this.after = append[append.length - 1]!.cursor;
      }
    }
  }

  private async forwardAppend(append: RecordedEvent[]): Promise<void> {
    const first = append[0]!;
    try {
      const result = await this.target.append(first.streamId, append.map(asNew), { expectedVersion: first.version - 1, owner: first.owner });
      this.lastCursor = maxCursor(this.lastCursor, result.cursor);
      this.counts.forwarded += append.length;
    } catch (error) {
      if (!(error instanceof WrongExpectedVersionError) && !isLakechatError(error, 'LAKECHAT_ERR_STORE_EVENT_ID_CONFLICT')) throw error;
      // Tombstones of an erased user forwarded by an earlier attempt (the memory erasure since gave
      // them ids of its own): in place already, nothing to do twice.
      if (append.every(erasedByOwner) && (await this.inPlaceAlready(append))) return;
      for (const event of append) await this.redecide(event, error.message);
    }
  }

  private async inPlaceAlready(append: readonly RecordedEvent[]): Promise<boolean> {
    const first = append[0]!;
    const page = await this.target.readStream(first.streamId, { fromVersion: first.version, limit: append.length });
    return page.events.length === append.length && page.events.every((event, n) => event.version === append[n]!.version && event.type === append[n]!.type && erasedByOwner(event));
  }

  private async redecide(event: RecordedEvent, conflict: string): Promise<void> {
    const post = event.type === 'MessagePosted' && event.streamId.startsWith(chatStreamPrefix) ? MessagePosted.safeParse(event.data) : undefined;
    if (post?.success !== true) return this.park(event, `not forwarded: ${conflict}`);
    const data = post.data;
    for (let attempt = 1; attempt <= redecideAttempts; attempt++) {
      const state = await chatStateOf(this.target, event.streamId);
      let decided;
      try {
        decided = decideChat(
          state,
          {
            type: 'PostMessage',
            messageId: data.messageId,
            role: data.role,
            content: data.content,
            clientMessageId: data.clientMessageId,
            traceId: data.traceId,
            traceSummary: data.traceSummary,
          },
          { maxMessageBytes: Number.POSITIVE_INFINITY },
        );
      } catch (error) {
        return this.park(event, `not posted again: ${error instanceof Error ? error.message : String(error)}`);
      }
      try {
        const result = await this.target.append(
          event.streamId,
          decided.map((decision) => ({ ...asNew(event), type: decision.type, data: decision.data })),
          { expectedVersion: state.version, owner: event.owner },
        );
        this.lastCursor = maxCursor(this.lastCursor, result.cursor);
        this.counts.redecided++;
        this.logger.warn(
          { eventId: event.eventId, streamId: event.streamId, version: result.nextExpectedVersion, duplicate: result.duplicate },
          'a message posted on the memory fallback was posted again after the chat moved on in PostgreSQL',
        );
        return;
      } catch (error) {
        if (isLakechatError(error, 'LAKECHAT_ERR_STORE_EVENT_ID_CONFLICT')) return this.park(event, `not posted again: ${error.message}`);
        if (!(error instanceof WrongExpectedVersionError)) throw error;
      }
    }
    return this.park(event, `not posted again: the chat kept moving on (${redecideAttempts} attempts)`);
  }

  private async park(event: RecordedEvent, reason: string): Promise<void> {
    await this.db.query(sql.unsafe`
      INSERT INTO fallback_parked_events (event_id, stream_id, stream_version, event_type, schema_version, data, metadata, owner, recorded_at, reason)
      VALUES (${event.eventId}, ${event.streamId}, ${event.version}, ${event.type}, ${event.schemaVersion}, ${JSON.stringify(event.data)},
        ${JSON.stringify(event.metadata)}, ${event.owner}, ${event.recordedAt.toISOString()}, ${reason.slice(0, 500)})
      ON CONFLICT (event_id) DO NOTHING`);
    this.counts.parked++;
    this.logger.error(
      { eventId: event.eventId, streamId: event.streamId, type: event.type, version: event.version, reason },
      'an event accepted on the memory fallback could not be forwarded to PostgreSQL: parked in fallback_parked_events',
    );
  }
}

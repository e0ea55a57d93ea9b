import { createHmac } from 'node:crypto';

/**
 * An erased event's payload. The event keeps its place in the log (position, transaction id, type,
 * recorded time), so every cursor, checkpoint and count stays valid, but its data says only that it
 * was erased, and by which erasure. Every reader understands it: the read models and the domain's
 * folds skip it, the replay and the WebSocket protocol pass it on as it is (docs/privacy.md).
 */
export interface Tombstone {
  erased: true;
  erasureId: string;
}

export function tombstoneOf(erasureId: string): Tombstone {
  return { erased: true, erasureId };
}

/** True for an erased event's data. */
export function isTombstone(data: unknown): data is Tombstone {
  return typeof data === 'object' && data !== null && (data as { erased?: unknown }).erased === true && typeof (data as { erasureId?: unknown }).erasureId === 'string';
}

/** What to erase. */
export interface EraseSelection {
  /**
   * Every event of this owner (a user's erasure): data becomes a tombstone, metadata is emptied, the
   * owner cleared, the event id replaced by a random one and the stream renamed (`erasedStreamId`),
   * since stream ids and idempotent event ids are computed from the owner's email.
   */
  owner?: string;
  /**
   * Or the events of these streams (a deleted chat or profile): data only becomes a tombstone; the
   * stream, its owner, event ids and metadata stay (the user still exists).
   */
  streamIds?: readonly string[];
  /** With `streamIds`: only events at or below this version of each stream. */
  throughVersion?: number;
  /** With `streamIds`: event types left as they are (the fact that a chat was deleted may stay). */
  keepTypes?: readonly string[];
}

export interface EraseOptions {
  /** Named in every tombstone. */
  erasureId: string;
  /**
   * The secret that renames an erased stream (`erasedStreamId`): the same key gives the same new id,
   * so an erasure resumed after a crash continues the streams it began. Forgotten once the erasure
   * completes, after which the new ids cannot be linked to the old ones.
   */
  streamKey: string;
  /**
   * An erasure record (`erasures.id`, PostgreSQL) whose `events_erased` moves in the same statement
   * as each batch, so its count is exact whenever the process is killed. The memory store ignores it.
   */
  countIn?: string;
  /** Rows rewritten per short transaction (default 500). */
  batchSize?: number;
  /** Called after each batch with the events erased so far. */
  onBatch?: (erasedSoFar: number) => void | Promise<void>;
  signal?: AbortSignal;
}

export interface EraseResult {
  /** Events rewritten as tombstones. */
  events: number;
  /** The (old) ids of the streams touched. */
  streamIds: string[];
  /** The greatest cursor of the events erased (null when none was): read models past it hold none of their old payloads. */
  lastCursor: string | null;
}

/** The erased stream's new id: a keyed hash of the old one, unlinkable once the key is gone. */
export function erasedStreamId(streamKey: string, streamId: string): string {
  return `erased-${createHmac('sha256', streamKey).update(streamId).digest('hex').slice(0, 32)}`;
}

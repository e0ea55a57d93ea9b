import { type CommonQueryMethods, sql } from 'slonik';
import { z } from 'zod';
import type { MessagePostedData } from '../../chats/events.ts';
import { selectRows } from '../../projection-runner/rows.ts';
import type { TableNames } from '../../projection-runner/tables.ts';
import type { RebuildApplier } from './applier.ts';
import { copyableFromLog, insertMessagesFromLog } from './messages-from-log.ts';
import { RowCache } from './row-cache.ts';
import { type Columns, rowWriter } from './write-rows.ts';

const columns = ['stream_id', 'position', 'owner', 'chat_id', 'message_id', 'role', 'content', 'client_message_id', 'trace_id', 'trace_summary', 'created_at', 'cursor'] as const;

const highestRow = z.object({ stream_id: z.string(), highest: z.number() });

/**
 * The rebuild fast path of the "messages" read model (projections/messages.ts declares it), by the
 * rules of its fold: a post inserts its message unless one is stored at that position; a deletion
 * removes the chat's messages (the contract suite checks both give the same rows). A batch's deletions run
 * before its inserts, and a post that came before a deletion in the batch goes with it: the order
 * of the events is kept without reading anything.
 *
 * It remembers each chat's highest stored position: a post above it cannot conflict, and goes in with
 * a plain INSERT; only the others (never, in a log the domain wrote) take ON CONFLICT DO NOTHING.
 */
export function messagesFromLog(tables: TableNames, capacity = 200_000): RebuildApplier {
  const insertNew = rowWriter(tables('messages'), { columns, key: ['stream_id', 'position'], onConflict: 'fail' });
  const insertUnlessStored = rowWriter(tables('messages'), { columns, key: ['stream_id', 'position'], onConflict: 'ignore' });
  const highestStored = new RowCache<number>(capacity);

  const load = async (db: CommonQueryMethods, streams: string[]): Promise<void> => {
    if (streams.length === 0) return;
    if (highestStored.complete) {
      for (const key of streams) highestStored.set(key, 0);
      return;
    }
    const rows = await selectRows(
      db,
      highestRow,
      sql.unsafe`
      SELECT stream_id, max(position) AS highest FROM ${tables('messages')}
      WHERE stream_id = ANY(${sql.array(streams, 'text')}) GROUP BY stream_id`,
    );
    for (const stream of streams) highestStored.set(stream, 0);
    for (const row of rows) highestStored.set(row.stream_id, row.highest);
  };

  return {
    async stage(db, items, generation) {
      const { entries, missing } = highestStored.lookup(items, (item) => item.event.streamId);
      await load(db, missing);
      const rows = emptyColumns();
      // Whether each queued row may meet a stored one (its position is not above the highest stored).
      const mayConflict: boolean[] = [];
      // Each queued row's event position, when the row can be read from the events table.
      const fromLog: (number | null)[] = [];
      // Per chat, queued in this batch: where its rows start (after a deletion), and the highest position.
      const cutAt = new Map<string, number>();
      const queued = new Map<string, number>();
      for (let i = 0; i < items.length; i++) {
        const { type, data, event } = items[i]!;
        const stream = event.streamId;
        const stored = entries[i] ?? highestStored.entry(stream)!;
        if (type === 'ChatDeleted') {
          cutAt.set(stream, mayConflict.length);
          queued.delete(stream);
          highestStored.staged(stored, 0, generation);
          continue;
        }
        if (type !== 'MessagePosted') continue;
        const posted = data as MessagePostedData;
        const top = queued.get(stream);
        // ON CONFLICT (stream_id, position) DO NOTHING: the first post at a position stays.
        if (top !== undefined && posted.position <= top && queuedAt(rows, cutAt.get(stream) ?? 0, stream, posted.position)) continue;
        queued.set(stream, Math.max(top ?? 0, posted.position));
        const highest = stored.row ?? 0;
        const conflict = posted.position <= highest;
        const copyable = !conflict && copyableFromLog(posted);
        push(rows, posted, event, !copyable);
        mayConflict.push(conflict);
        fromLog.push(copyable ? event.position : null);
        if (posted.position > highest) highestStored.staged(stored, posted.position, generation);
      }
      const deleted = [...cutAt.keys()];
      const streams = rows.stream_id as string[];
      const keep = (wanted: boolean) => (index: number) => mayConflict[index] === wanted && index >= (cutAt.get(streams[index]!) ?? 0);
      // Rows known to be new: read from the log where they can be (by event position), else sent by value.
      const positions: number[] = [];
      let first: string | undefined;
      let last: string | undefined;
      const cursors = rows.cursor as string[];
      for (let i = 0; i < mayConflict.length; i++) {
        if (!keep(false)(i) || fromLog[i] === null) continue;
        positions.push(fromLog[i]!);
        first ??= cursors[i];
        last = cursors[i];
      }
      const fresh = select(rows, (index) => keep(false)(index) && fromLog[index] === null);
      const risky = mayConflict.includes(true) ? select(rows, keep(true)) : emptyColumns();
      return {
        write: async (tx) => {
          if (deleted.length > 0) await tx.query(sql.unsafe`DELETE FROM ${tables('messages')} WHERE stream_id = ANY(${sql.array(deleted, 'text')})`);
          await insertMessagesFromLog(tx, tables('messages'), positions, first!, last!);
          await insertNew(tx, fresh);
          await insertUnlessStored(tx, risky);
        },
        complete: true,
      };
    },
    committed: (generation) => highestStored.trim(generation),
    forget: () => highestStored.clear(),
    startEmpty: () => highestStored.startEmpty(),
  };
}

function emptyColumns(): Columns {
  return Object.fromEntries(columns.map((column) => [column, []]));
}

/** Queues a row; without `values`, only what finds it again (the row itself is read from its event). */
function push(rows: Columns, posted: MessagePostedData, event: { streamId: string; owner: string | null; recordedAt: Date; cursor: string }, values: boolean): void {
  rows.stream_id!.push(event.streamId);
  rows.position!.push(posted.position);
  rows.cursor!.push(event.cursor);
  rows.owner!.push(values ? (event.owner ?? '') : null);
  rows.chat_id!.push(values ? posted.chatId : null);
  rows.message_id!.push(values ? posted.messageId : null);
  rows.role!.push(values ? posted.role : null);
  rows.content!.push(values ? posted.content : null);
  rows.client_message_id!.push(values ? (posted.clientMessageId ?? null) : null);
  rows.trace_id!.push(values ? (posted.traceId ?? null) : null);
  rows.trace_summary!.push(values ? (posted.traceSummary ?? null) : null);
  rows.created_at!.push(values ? event.recordedAt.toISOString() : null);
}

function queuedAt(rows: Columns, from: number, stream: string, position: number): boolean {
  const streams = rows.stream_id as string[];
  const positions = rows.position as number[];
  for (let i = from; i < streams.length; i++) if (streams[i] === stream && positions[i] === position) return true;
  return false;
}

/** The rows whose index `wanted` accepts. */
function select(rows: Columns, wanted: (index: number) => boolean): Columns {
  const indexes: number[] = [];
  for (let i = 0; i < (rows.stream_id as string[]).length; i++) if (wanted(i)) indexes.push(i);
  return Object.fromEntries(Object.entries(rows).map(([column, values]) => [column, indexes.map((i) => values[i])]));
}

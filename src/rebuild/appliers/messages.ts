import { sql } from 'slonik';
import type { MessagePostedData } from '../../chats/events.ts';
import type { TableNames } from '../../projections/tables.ts';
import type { RebuildApplier } from './applier.ts';
import { rowWriter } from './write-rows.ts';

const columns = [
  'stream_id',
  'position',
  'owner',
  'chat_id',
  'message_id',
  'role',
  'content',
  'client_message_id',
  'trace_id',
  'trace_summary',
  'created_at',
  'cursor',
];

/**
 * The "messages" read model (projections/messages.ts) for a rebuild: a post inserts its message unless
 * one is stored at that position; a deletion removes the chat's messages. A batch's deletions run
 * before its inserts, and a post that came before a deletion in the batch goes with it: the order
 * of the events is kept without reading anything.
 */
export function messagesApplier(tables: TableNames): RebuildApplier {
  const write = rowWriter(tables('messages'), { columns, key: ['stream_id', 'position'], onConflict: 'ignore' });
  return {
    updatedInPlace: [],
    async stage(_db, items) {
      const inserts = new Map<string, Record<string, unknown>>();
      const deleted = new Set<string>();
      for (const { type, data, event } of items) {
        if (type === 'ChatDeleted') {
          deleted.add(event.streamId);
          for (const [key, row] of inserts) if (row.stream_id === event.streamId) inserts.delete(key);
          continue;
        }
        if (type !== 'MessagePosted') continue;
        const posted = data as MessagePostedData;
        const key = `${event.streamId}\u0000${posted.position}`;
        // ON CONFLICT (stream_id, position) DO NOTHING: the first post at a position stays.
        if (inserts.has(key)) continue;
        inserts.set(key, {
          stream_id: event.streamId,
          position: posted.position,
          owner: event.owner ?? '',
          chat_id: posted.chatId,
          message_id: posted.messageId,
          role: posted.role,
          content: posted.content,
          client_message_id: posted.clientMessageId ?? null,
          trace_id: posted.traceId ?? null,
          trace_summary: posted.traceSummary ?? null,
          created_at: event.recordedAt.toISOString(),
          cursor: event.cursor,
        });
      }
      const rows = [...inserts.values()];
      const streams = [...deleted];
      return {
        write: async (tx) => {
          if (streams.length > 0) await tx.query(sql.unsafe`DELETE FROM ${tables('messages')} WHERE stream_id = ANY(${sql.array(streams, 'text')})`);
          await write(tx, rows);
        },
        complete: true,
      };
    },
    committed: () => {},
    forget: () => {},
  };
}

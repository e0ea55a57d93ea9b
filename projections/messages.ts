import { sql } from 'slonik';
import { type ChatEvent, type MessagePostedData, type MessageRole, parseChatEvent } from '../src/chats/events.ts';
import type { ReadModel, Row } from '../src/projection-runner/read-model.ts';
import { selectList } from '../src/projection-runner/sql-rows.ts';
import { messagesFromLog } from '../src/rebuild/appliers/messages-fast-path.ts';

/** Read model "messages": every message of every chat, in order, keyed by (chat stream, position). */

export interface MessageRow {
  streamId: string;
  owner: string;
  chatId: string;
  messageId: string;
  /** 1, 2, 3... within the chat. */
  position: number;
  role: MessageRole;
  content: string;
  clientMessageId: string | null;
  traceId: string | null;
  traceSummary: Record<string, unknown> | null;
  /** ISO 8601, as the API returns it. */
  createdAt: string;
  /** The cursor of the event that posted it: where a live subscription can resume. */
  cursor: string;
}

/** A page of messages; `cutByBytes` when `maxBytes` left out messages that follow. */
export type MessagePage = MessageRow[] & { cutByBytes?: boolean };

export interface MessagesQueries {
  /**
   * The chat's messages after position `after`, in order. With `maxBytes`, the page stops before the
   * messages' content and trace summaries would pass that many bytes (at least one message).
   */
  list(streamId: string, options: { after: number; limit: number; maxBytes?: number }): Promise<MessagePage>;
  get(streamId: string, position: number): Promise<MessageRow | null>;
}

/** The row a posted message becomes: one definition for both sides and for answering the post. */
export function messageRowOf(data: MessagePostedData, event: { streamId: string; owner: string | null; recordedAt: Date; cursor: string }): MessageRow {
  return {
    streamId: event.streamId,
    owner: event.owner ?? '',
    chatId: data.chatId,
    messageId: data.messageId,
    position: data.position,
    role: data.role,
    content: data.content,
    clientMessageId: data.clientMessageId ?? null,
    traceId: data.traceId ?? null,
    traceSummary: data.traceSummary ?? null,
    createdAt: event.recordedAt.toISOString(),
    cursor: event.cursor,
  };
}

/** The table's row, as the fold writes it and the queries read it. */
interface MessageTableRow extends Row {
  stream_id: string;
  position: number;
  owner: string;
  chat_id: string;
  message_id: string;
  role: MessageRole;
  content: string;
  client_message_id: string | null;
  trace_id: string | null;
  trace_summary: Record<string, unknown> | null;
  created_at: string;
  cursor: string;
}

const messagesTable = {
  columns: {
    stream_id: 'text',
    position: 'integer',
    owner: 'text',
    chat_id: 'text',
    message_id: 'uuid',
    role: 'text',
    content: 'text',
    client_message_id: 'text',
    trace_id: 'text',
    trace_summary: 'jsonb',
    created_at: 'timestamptz',
    cursor: 'text',
  },
  key: ['stream_id', 'position'],
} as const;

const messageOf = (row: MessageTableRow): MessageRow => ({
  streamId: row.stream_id,
  owner: row.owner,
  chatId: row.chat_id,
  messageId: row.message_id,
  position: row.position,
  role: row.role,
  content: row.content,
  clientMessageId: row.client_message_id,
  traceId: row.trace_id,
  traceSummary: row.trace_summary === null ? null : structuredClone(row.trace_summary),
  createdAt: row.created_at,
  cursor: row.cursor,
});

/** A message's bytes as the byte budget of a page counts them: content and trace summary as UTF-8 text. */
function messageBytes(row: MessageTableRow): number {
  return Buffer.byteLength(row.content) + (row.trace_summary === null ? 0 : Buffer.byteLength(JSON.stringify(row.trace_summary)));
}

export const messagesReadModel: ReadModel<ChatEvent, MessagesQueries> = {
  name: 'messages',
  parse: parseChatEvent,
  tables: { messages: messagesTable },
  migration: '012.do.sql',
  // Reads nothing: a post is stored unless a message is at its position (the first one stays).
  fold: {
    MessagePosted(rows, data, event) {
      const message = messageRowOf(data, event);
      rows.insertIfAbsent('messages', {
        stream_id: message.streamId,
        position: message.position,
        owner: message.owner,
        chat_id: message.chatId,
        message_id: message.messageId,
        role: message.role,
        content: message.content,
        client_message_id: message.clientMessageId,
        trace_id: message.traceId,
        trace_summary: message.traceSummary,
        created_at: message.createdAt,
        cursor: message.cursor,
      } satisfies MessageTableRow);
    },
    ChatDeleted(rows, _data, event) {
      rows.deleteGroup('messages', event.streamId);
    },
  },
  inAppend: {
    // A post's message, inserted by its own append when the chat's message before it is already in
    // the table (so the table never shows a gap a reader paging by position would skip). Content and
    // trace summary are read from the inserted event: they travel once.
    MessagePosted(tables, items, appended) {
      const rows = items.map(({ data, eventId }) => ({
        event_id: eventId,
        position: data.position,
        chat_id: data.chatId,
        message_id: data.messageId,
        role: data.role,
        client_message_id: data.clientMessageId ?? null,
        trace_id: data.traceId ?? null,
      }));
      return sql.fragment`
        INSERT INTO ${tables('messages')} (stream_id, position, owner, chat_id, message_id, role, content, client_message_id, trace_id, trace_summary, created_at, cursor)
        SELECT a.stream_id, r.position, coalesce(a.owner, ''), r.chat_id, r.message_id, r.role, a.data->>'content', r.client_message_id, r.trace_id,
          a.data->'traceSummary', a.recorded_at, a.cursor
        FROM ${appended} AS a
        JOIN jsonb_to_recordset(${sql.jsonb(rows)}) AS r(event_id uuid, position integer, chat_id text, message_id uuid, role text, client_message_id text, trace_id text)
          ON r.event_id = a.event_id
        WHERE r.position = 1 OR EXISTS (SELECT 1 FROM ${tables('messages')} AS previous WHERE previous.stream_id = a.stream_id AND previous.position = r.position - 1)
        ON CONFLICT DO NOTHING
        RETURNING cursor, tableoid`;
    },
  },
  // A rebuild inserts most messages straight from the events table (their text never travels).
  rebuild: messagesFromLog,
  queries: {
    memory: (tables) => ({
      async list(streamId, { after, limit, maxBytes }) {
        const rows = (tables.group('messages', streamId) as MessageTableRow[]).filter((row) => row.position > after).sort((a, b) => a.position - b.position);
        const page: MessagePage = [];
        let bytes = 0;
        for (const row of rows) {
          if (page.length >= limit) break;
          if (maxBytes !== undefined) {
            bytes += messageBytes(row);
            if (bytes > maxBytes && page.length > 0) {
              page.cutByBytes = true;
              break;
            }
          }
          page.push(messageOf(row));
        }
        return page;
      },
      async get(streamId, position) {
        const row = tables.get('messages', streamId, position) as MessageTableRow | null;
        return row === null ? null : messageOf(row);
      },
    }),
    postgres: (db, tables) => ({
      async list(streamId, { after, limit, maxBytes }) {
        if (maxBytes === undefined) {
          const rows = await db.any(sql.unsafe`
            SELECT ${selectList(messagesTable)} FROM ${tables('messages')}
            WHERE stream_id = ${streamId} AND position > ${after}
            ORDER BY position
            LIMIT ${limit}`);
          return rows.map((row) => messageOf(row as MessageTableRow));
        }
        // The running total walks the rows in order; the rows that fit are sent, plus the first that
        // does not (so the page knows it was cut), never the megabytes after it.
        const rows = await db.any(sql.unsafe`
          SELECT ${selectList(messagesTable)}, running_bytes::float8 AS running_bytes FROM (
            SELECT sized.*, sum(sized.message_bytes) OVER in_order AS running_bytes, row_number() OVER in_order AS row_in_page
            FROM (
              SELECT m.*, octet_length(m.content) + coalesce(octet_length(m.trace_summary::text), 0) AS message_bytes
              FROM ${tables('messages')} AS m
              WHERE m.stream_id = ${streamId} AND m.position > ${after}
              ORDER BY m.position
              LIMIT ${limit}
            ) AS sized
            WINDOW in_order AS (ORDER BY sized.position ROWS UNBOUNDED PRECEDING)
          ) AS messages
          WHERE running_bytes - message_bytes <= ${maxBytes} OR row_in_page <= 2
          ORDER BY position`);
        const page: MessagePage = [];
        for (const row of rows) {
          if (((row as Row).running_bytes as number) > maxBytes && page.length > 0) {
            page.cutByBytes = true;
            break;
          }
          page.push(messageOf(row as MessageTableRow));
        }
        return page;
      },
      async get(streamId, position) {
        const row = await db.maybeOne(sql.unsafe`
          SELECT ${selectList(messagesTable)} FROM ${tables('messages')} WHERE stream_id = ${streamId} AND position = ${position}`);
        return row === null ? null : messageOf(row as MessageTableRow);
      },
    }),
  },
};

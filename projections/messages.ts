import { sql } from 'slonik';
import { z } from 'zod';
import { parseChatEvent, type ChatEvent, type MessagePostedData, type MessageRole } from '../src/chats/events.ts';
import type { Projection } from '../src/projection-runner/projection.ts';
import { isoTimestamp, selectRow, selectRows } from '../src/projection-runner/rows.ts';

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

// ---- in memory -------------------------------------------------------------------------------

/** Per chat stream, its messages in order: index i holds position i + 1 (a hole where one was skipped). */
type MessagesModel = Map<string, (MessageRow | undefined)[]>;

/** A message's bytes as the byte budget of a page counts them: content and trace summary as UTF-8 text. */
function messageBytes(row: MessageRow): number {
  return Buffer.byteLength(row.content) + (row.traceSummary === null ? 0 : Buffer.byteLength(JSON.stringify(row.traceSummary)));
}

const copy = (row: MessageRow): MessageRow => ({ ...row, traceSummary: row.traceSummary === null ? null : structuredClone(row.traceSummary) });

// ---- PostgreSQL -------------------------------------------------------------------------------

const messageRowSchema = z
  .object({
    stream_id: z.string(),
    owner: z.string(),
    chat_id: z.string(),
    message_id: z.string(),
    position: z.number(),
    role: z.enum(['user', 'assistant', 'system', 'tool']),
    content: z.string(),
    client_message_id: z.string().nullable(),
    trace_id: z.string().nullable(),
    trace_summary: z.record(z.string(), z.unknown()).nullable(),
    created_at: z.string(),
    cursor: z.string(),
  })
  .transform(
    (row): MessageRow => ({
      streamId: row.stream_id,
      owner: row.owner,
      chatId: row.chat_id,
      messageId: row.message_id,
      position: row.position,
      role: row.role,
      content: row.content,
      clientMessageId: row.client_message_id,
      traceId: row.trace_id,
      traceSummary: row.trace_summary,
      createdAt: row.created_at,
      cursor: row.cursor,
    }),
  );

const sizedMessageRow = z
  .object({ running_bytes: z.number(), row_in_page: z.number() })
  .passthrough()
  .transform((row) => ({ row: messageRowSchema.parse(row), runningBytes: row.running_bytes }));

const columns = sql.fragment`stream_id, owner, chat_id, message_id::text AS message_id, position, role, content,
  client_message_id, trace_id, trace_summary, ${isoTimestamp('created_at')}, cursor`;

export const messagesProjection: Projection<ChatEvent, MessagesQueries, MessagesModel> = {
  name: 'messages',
  parse: parseChatEvent,
  memory: {
    create: () => new Map(),
    handlers: {
      MessagePosted(model, data, event) {
        let messages = model.get(event.streamId);
        if (messages === undefined) model.set(event.streamId, (messages = []));
        if (messages[data.position - 1] !== undefined) return;
        messages[data.position - 1] = messageRowOf(data, event);
      },
      ChatDeleted(model, _data, event) {
        model.delete(event.streamId);
      },
    },
    queries: (model) => ({
      async list(streamId, { after, limit, maxBytes }) {
        const messages = model.get(streamId) ?? [];
        const page: MessagePage = [];
        let bytes = 0;
        for (let i = Math.max(0, after); i < messages.length && page.length < limit; i++) {
          const row = messages[i];
          if (row === undefined) continue;
          if (maxBytes !== undefined) {
            bytes += messageBytes(row);
            if (bytes > maxBytes && page.length > 0) {
              page.cutByBytes = true;
              break;
            }
          }
          page.push(copy(row));
        }
        return page;
      },
      async get(streamId, position) {
        const row = model.get(streamId)?.[position - 1];
        return row === undefined ? null : copy(row);
      },
    }),
  },
  postgres: {
    tables: ['messages'],
    migration: '012.do.sql',
    bulk: {
      MessagePosted(tables, items, guard) {
        const rows = items.map(({ data, event }) => ({
          stream_id: event.streamId,
          position: data.position,
          owner: event.owner ?? '',
          chat_id: data.chatId,
          message_id: data.messageId,
          role: data.role,
          content: data.content,
          client_message_id: data.clientMessageId ?? null,
          trace_id: data.traceId ?? null,
          trace_summary: data.traceSummary ?? null,
          created_at: event.recordedAt.toISOString(),
          cursor: event.cursor,
        }));
        return sql.fragment`
          INSERT INTO ${tables('messages')}
            (stream_id, position, owner, chat_id, message_id, role, content, client_message_id, trace_id, trace_summary, created_at, cursor)
          SELECT * FROM jsonb_to_recordset(${sql.jsonb(rows)}) AS r(
            stream_id text, position integer, owner text, chat_id text, message_id uuid, role text, content text,
            client_message_id text, trace_id text, trace_summary jsonb, created_at timestamptz, cursor text)
          WHERE ${guard}
          ON CONFLICT (stream_id, position) DO NOTHING`;
      },
    },
    handlers: {
      async MessagePosted(db, tables, data, event) {
        await db.query(sql.unsafe`
          INSERT INTO ${tables('messages')}
            (stream_id, position, owner, chat_id, message_id, role, content, client_message_id, trace_id, trace_summary, created_at, cursor)
          VALUES (${event.streamId}, ${data.position}, ${event.owner ?? ''}, ${data.chatId}, ${data.messageId}, ${data.role},
                  ${data.content}, ${data.clientMessageId ?? null}, ${data.traceId ?? null},
                  ${data.traceSummary === undefined ? null : sql.jsonb(data.traceSummary as never)},
                  ${sql.timestamp(event.recordedAt)}, ${event.cursor})
          ON CONFLICT (stream_id, position) DO NOTHING`);
      },
      async ChatDeleted(db, tables, _data, event) {
        await db.query(sql.unsafe`DELETE FROM ${tables('messages')} WHERE stream_id = ${event.streamId}`);
      },
    },
    queries: (db, tables) => ({
      async list(streamId, { after, limit, maxBytes }) {
        if (maxBytes === undefined) {
          const rows = await selectRows(db, messageRowSchema, sql.unsafe`
            SELECT ${columns} FROM ${tables('messages')}
            WHERE stream_id = ${streamId} AND position > ${after}
            ORDER BY position
            LIMIT ${limit}`);
          return [...rows];
        }
        // The running total walks the rows in order; the rows that fit are sent, plus the first that
        // does not (so the page knows it was cut), never the megabytes after it.
        const rows = await selectRows(db, sizedMessageRow, sql.unsafe`
          SELECT ${columns}, running_bytes::float8 AS running_bytes, row_in_page::float8 AS row_in_page FROM (
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
        for (const { row, runningBytes } of rows) {
          if (runningBytes > maxBytes && page.length > 0) {
            page.cutByBytes = true;
            break;
          }
          page.push(row);
        }
        return page;
      },
      async get(streamId, position) {
        return selectRow(db, messageRowSchema, sql.unsafe`
          SELECT ${columns} FROM ${tables('messages')} WHERE stream_id = ${streamId} AND position = ${position}`);
      },
    }),
  },
};

import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';
import { parseChatEvent, type ChatEvent, type MessageRole } from '../src/chats/events.ts';
import type { Projection } from '../src/projection-runner/projection.ts';
import { isoTimestamp, selectRow, selectRows } from '../src/projection-runner/rows.ts';
import type { TableNames } from '../src/projection-runner/tables.ts';

/**
 * Read model "chats": one row per chat, listed per user by last activity (newest first), with the
 * message count and a preview of the last message. "Last activity" is the log position of the chat's
 * latest event: unique, so the order has no ties and pages never overlap, whatever the clock did. A
 * deleted chat keeps a tombstone row, so an event applied again can never bring it back.
 */

export interface ChatRow {
  streamId: string;
  owner: string;
  chatId: string;
  title: string;
  agentId: string | null;
  /** ISO 8601 times, as the API returns them. */
  createdAt: string;
  updatedAt: string;
  messageCount: number;
  lastMessage: { role: MessageRole; preview: string; at: string } | null;
  /** The chat stream's version this row reflects: the ETag of the chat. */
  version: number;
  /** The log position of the chat's latest event: the list's order. */
  lastPosition: number;
}

/** Where a page of the list continues: after the chat whose latest event is at this position. */
export interface ChatListKey {
  lastPosition: number;
}

export interface ChatsQueries {
  /** The user's chat, or null when it does not exist, is deleted, or is someone else's. */
  get(owner: string, chatId: string): Promise<ChatRow | null>;
  /** The user's chats, most recently active first. */
  list(owner: string, options: { limit: number; after?: ChatListKey | undefined }): Promise<ChatRow[]>;
}

export const previewLength = 200;

/** The first characters of a message, never ending in half a surrogate pair. */
export function previewOf(content: string): string {
  if (content.length <= previewLength) return content;
  const cut = content.slice(0, previewLength);
  const last = cut.charCodeAt(cut.length - 1);
  return last >= 0xd800 && last <= 0xdbff ? cut.slice(0, -1) : cut;
}

const compareForList = (a: ChatRow, b: ChatRow): number => b.lastPosition - a.lastPosition;

// ---- in memory -------------------------------------------------------------------------------

interface StoredChat extends ChatRow {
  deleted: boolean;
}

interface ChatsModel {
  byStream: Map<string, StoredChat>;
  byOwner: Map<string, Map<string, StoredChat>>;
}

function update(model: ChatsModel, event: { streamId: string; version: number; position: number }, change: (row: StoredChat) => void): void {
  const row = model.byStream.get(event.streamId);
  if (row === undefined || row.version >= event.version) return;
  change(row);
  row.version = event.version;
  row.lastPosition = event.position;
}

const visible = (row: StoredChat | undefined): ChatRow | null => {
  if (row === undefined || row.deleted) return null;
  const { deleted: _deleted, ...chat } = row;
  return { ...chat, lastMessage: chat.lastMessage === null ? null : { ...chat.lastMessage } };
};

// ---- PostgreSQL -------------------------------------------------------------------------------

const chatRowSchema = z
  .object({
    stream_id: z.string(),
    owner: z.string(),
    chat_id: z.string(),
    title: z.string(),
    agent_id: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
    message_count: z.number(),
    last_message_role: z.enum(['user', 'assistant', 'system', 'tool']).nullable(),
    last_message_preview: z.string().nullable(),
    last_message_at: z.string().nullable(),
    version: z.number(),
    last_position: z.coerce.number(),
  })
  .transform(
    (row): ChatRow => ({
      streamId: row.stream_id,
      owner: row.owner,
      chatId: row.chat_id,
      title: row.title,
      agentId: row.agent_id,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
      messageCount: row.message_count,
      lastMessage:
        row.last_message_role === null || row.last_message_at === null
          ? null
          : { role: row.last_message_role, preview: row.last_message_preview ?? '', at: row.last_message_at },
      version: row.version,
      lastPosition: row.last_position,
    }),
  );

const columns = sql.fragment`stream_id, owner, chat_id, title, agent_id, ${isoTimestamp('created_at')}, ${isoTimestamp('updated_at')},
  message_count, last_message_role, last_message_preview, ${isoTimestamp('last_message_at')}, version, last_position`;

async function updateRow(
  db: CommonQueryMethods,
  tables: TableNames,
  event: { streamId: string; version: number; position: number; recordedAt: Date },
  set: ReturnType<typeof sql.fragment>,
): Promise<void> {
  await db.query(sql.unsafe`
    UPDATE ${tables('chats')}
    SET ${set}, updated_at = ${sql.timestamp(event.recordedAt)}, version = ${event.version}, last_position = ${event.position}
    WHERE stream_id = ${event.streamId} AND version < ${event.version}`);
}

export const chatsProjection: Projection<ChatEvent, ChatsQueries, ChatsModel> = {
  name: 'chats',
  parse: parseChatEvent,
  memory: {
    create: () => ({ byStream: new Map(), byOwner: new Map() }),
    handlers: {
      ChatStarted(model, data, event) {
        if (model.byStream.has(event.streamId)) return;
        const row: StoredChat = {
          streamId: event.streamId,
          owner: data.userEmail,
          chatId: data.chatId,
          title: data.title,
          agentId: data.agentId,
          createdAt: event.recordedAt.toISOString(),
          updatedAt: event.recordedAt.toISOString(),
          messageCount: 0,
          lastMessage: null,
          version: event.version,
          lastPosition: event.position,
          deleted: false,
        };
        model.byStream.set(event.streamId, row);
        let owned = model.byOwner.get(row.owner);
        if (owned === undefined) model.byOwner.set(row.owner, (owned = new Map()));
        owned.set(row.chatId, row);
      },
      ChatRenamed(model, data, event) {
        update(model, event, (row) => {
          row.title = data.title;
          row.updatedAt = event.recordedAt.toISOString();
        });
      },
      MessagePosted(model, data, event) {
        update(model, event, (row) => {
          row.messageCount = Math.max(row.messageCount, data.position);
          const at = event.recordedAt.toISOString();
          row.lastMessage = { role: data.role, preview: previewOf(data.content), at };
          row.updatedAt = at;
        });
      },
      ChatDeleted(model, _data, event) {
        update(model, event, (row) => {
          row.deleted = true;
          row.updatedAt = event.recordedAt.toISOString();
        });
      },
    },
    queries: (model) => ({
      async get(owner, chatId) {
        return visible(model.byOwner.get(owner)?.get(chatId));
      },
      async list(owner, { limit, after }) {
        const rows = [...(model.byOwner.get(owner)?.values() ?? [])].filter((row) => !row.deleted).sort(compareForList);
        const start = after === undefined ? 0 : rows.findIndex((row) => row.lastPosition < after.lastPosition);
        return (start < 0 ? [] : rows.slice(start, start + limit)).map((row) => visible(row)!);
      },
    }),
  },
  postgres: {
    tables: ['chats'],
    migration: '011.do.sql',
    bulk: {
      MessagePosted(tables, items, guard) {
        // A run of posts leaves each chat as its last post in the run says, with the highest position.
        const last = new Map<string, (typeof items)[number]>();
        const highest = new Map<string, number>();
        for (const item of items) {
          const stream = item.event.streamId;
          if ((last.get(stream)?.event.version ?? 0) < item.event.version) last.set(stream, item);
          highest.set(stream, Math.max(highest.get(stream) ?? 0, item.data.position));
        }
        const rows = [...last.values()].map(({ data, event }) => ({
          stream_id: event.streamId,
          message_count: highest.get(event.streamId)!,
          role: data.role,
          preview: previewOf(data.content),
          at: event.recordedAt.toISOString(),
          version: event.version,
          last_position: event.position,
        }));
        return sql.fragment`
          UPDATE ${tables('chats')} AS chat
          SET message_count = GREATEST(chat.message_count, r.message_count), last_message_role = r.role,
              last_message_preview = r.preview, last_message_at = r.at, updated_at = r.at,
              version = r.version, last_position = r.last_position
          FROM jsonb_to_recordset(${sql.jsonb(rows)}) AS r(
            stream_id text, message_count integer, role text, preview text, at timestamptz, version integer, last_position bigint)
          WHERE chat.stream_id = r.stream_id AND chat.version < r.version AND ${guard}`;
      },
    },
    handlers: {
      async ChatStarted(db, tables, data, event) {
        await db.query(sql.unsafe`
          INSERT INTO ${tables('chats')} (stream_id, owner, chat_id, title, agent_id, created_at, updated_at, version, last_position)
          VALUES (${event.streamId}, ${data.userEmail}, ${data.chatId}, ${data.title}, ${data.agentId},
                  ${sql.timestamp(event.recordedAt)}, ${sql.timestamp(event.recordedAt)}, ${event.version}, ${event.position})
          ON CONFLICT (stream_id) DO NOTHING`);
      },
      async ChatRenamed(db, tables, data, event) {
        await updateRow(db, tables, event, sql.fragment`title = ${data.title}`);
      },
      async MessagePosted(db, tables, data, event) {
        await updateRow(
          db,
          tables,
          event,
          sql.fragment`message_count = GREATEST(message_count, ${data.position}),
            last_message_role = ${data.role},
            last_message_preview = ${previewOf(data.content)},
            last_message_at = ${sql.timestamp(event.recordedAt)}`,
        );
      },
      async ChatDeleted(db, tables, _data, event) {
        await updateRow(db, tables, event, sql.fragment`deleted = true`);
      },
    },
    queries: (db, tables) => ({
      async get(owner, chatId) {
        return selectRow(db, chatRowSchema, sql.unsafe`
          SELECT ${columns} FROM ${tables('chats')}
          WHERE owner = ${owner} AND chat_id = ${chatId} AND NOT deleted`);
      },
      async list(owner, { limit, after }) {
        const page = after === undefined ? sql.fragment`TRUE` : sql.fragment`last_position < ${after.lastPosition}`;
        const rows = await selectRows(db, chatRowSchema, sql.unsafe`
          SELECT ${columns} FROM ${tables('chats')}
          WHERE owner = ${owner} AND NOT deleted AND ${page}
          ORDER BY last_position DESC
          LIMIT ${limit}`);
        return [...rows];
      },
    }),
  },
};

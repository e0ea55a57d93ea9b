import { sql } from 'slonik';
import { type ChatEvent, type MessageRole, parseChatEvent } from '../src/chats/events.ts';
import { type FoldRows, type ReadModel, type Row, row } from '../src/projection-runner/read-model.ts';
import { selectList } from '../src/projection-runner/sql-rows.ts';

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

/** The table's row, as the fold writes it and the queries read it. */
interface ChatTableRow extends Row {
  stream_id: string;
  owner: string;
  chat_id: string;
  title: string;
  agent_id: string | null;
  created_at: string;
  updated_at: string;
  message_count: number;
  last_message_role: MessageRole | null;
  last_message_preview: string | null;
  last_message_at: string | null;
  version: number;
  last_position: number;
  deleted: boolean;
}

const chatsTable = {
  columns: {
    stream_id: 'text',
    owner: 'text',
    chat_id: 'text',
    title: 'text',
    agent_id: 'text',
    created_at: 'timestamptz',
    updated_at: 'timestamptz',
    message_count: 'integer',
    last_message_role: 'text',
    last_message_preview: 'text',
    last_message_at: 'timestamptz',
    version: 'integer',
    last_position: 'bigint',
    deleted: 'boolean',
  },
  key: ['stream_id'],
  group: 'owner',
  updatedInPlace: true,
} as const;

const chatOf = (row: ChatTableRow): ChatRow => ({
  streamId: row.stream_id,
  owner: row.owner,
  chatId: row.chat_id,
  title: row.title,
  agentId: row.agent_id,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
  messageCount: row.message_count,
  lastMessage: row.last_message_role === null || row.last_message_at === null ? null : { role: row.last_message_role, preview: row.last_message_preview ?? '', at: row.last_message_at },
  version: row.version,
  lastPosition: row.last_position,
});

/** A later event changes a chat only at an older version: an event applied again changes nothing. */
function update(rows: FoldRows, event: { streamId: string; version: number; position: number; recordedAt: Date }, change: Partial<ChatTableRow>): void {
  const chat = rows.get('chats', event.streamId) as ChatTableRow | null;
  if (chat === null || chat.version >= event.version) return;
  rows.put('chats', { ...chat, ...change, updated_at: event.recordedAt.toISOString(), version: event.version, last_position: event.position });
}

export const chatsReadModel: ReadModel<ChatEvent, ChatsQueries> = {
  name: 'chats',
  parse: parseChatEvent,
  tables: { chats: chatsTable },
  migration: '011.do.sql',
  reads: (_type, _data, event) => [row('chats', event.streamId)],
  fold: {
    ChatStarted(rows, data, event) {
      if (rows.get('chats', event.streamId) !== null) return;
      const at = event.recordedAt.toISOString();
      rows.put('chats', {
        stream_id: event.streamId,
        owner: data.userEmail,
        chat_id: data.chatId,
        title: data.title,
        agent_id: data.agentId,
        created_at: at,
        updated_at: at,
        message_count: 0,
        last_message_role: null,
        last_message_preview: null,
        last_message_at: null,
        version: event.version,
        last_position: event.position,
        deleted: false,
      } satisfies ChatTableRow);
    },
    ChatRenamed(rows, data, event) {
      update(rows, event, { title: data.title });
    },
    MessagePosted(rows, data, event) {
      const chat = rows.get('chats', event.streamId) as ChatTableRow | null;
      update(rows, event, {
        message_count: Math.max(chat?.message_count ?? 0, data.position),
        last_message_role: data.role,
        last_message_preview: previewOf(data.content),
        last_message_at: event.recordedAt.toISOString(),
      });
    },
    ChatDeleted(rows, _data, event) {
      update(rows, event, { deleted: true });
    },
  },
  live: {
    // The hot path: a run of posts in one UPDATE, without reading the chats first.
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
  inAppend: {
    // A chat's start, as its stream's first event (a start later in a stream is the runner's: its fold decides).
    ChatStarted(tables, items, appended) {
      const rows = items.map(({ data, eventId }) => ({ event_id: eventId, owner: data.userEmail, chat_id: data.chatId, title: data.title, agent_id: data.agentId }));
      return sql.fragment`
        INSERT INTO ${tables('chats')} AS chat (stream_id, owner, chat_id, title, agent_id, created_at, updated_at, message_count, last_message_role,
          last_message_preview, last_message_at, version, last_position, deleted)
        SELECT a.stream_id, r.owner, r.chat_id, r.title, r.agent_id, a.recorded_at, a.recorded_at, 0, NULL, NULL, NULL, a.stream_version, a.position, false
        FROM ${appended} AS a
        JOIN jsonb_to_recordset(${sql.jsonb(rows)}) AS r(event_id uuid, owner text, chat_id text, title text, agent_id text) ON r.event_id = a.event_id
        WHERE a.stream_version = 1
        ON CONFLICT DO NOTHING
        RETURNING (SELECT a.cursor FROM ${appended} AS a WHERE a.stream_id = chat.stream_id AND a.stream_version = 1) AS cursor, chat.tableoid`;
    },
    // A rename, from the version just before it (as a post, below).
    ChatRenamed(tables, items, appended) {
      const rows = items.map(({ data, eventId }) => ({ event_id: eventId, title: data.title }));
      return sql.fragment`
        UPDATE ${tables('chats')} AS chat
        SET title = r.title, updated_at = a.recorded_at, version = a.stream_version, last_position = a.position
        FROM ${appended} AS a
        JOIN jsonb_to_recordset(${sql.jsonb(rows)}) AS r(event_id uuid, title text) ON r.event_id = a.event_id
        WHERE chat.stream_id = a.stream_id AND chat.version = a.stream_version - 1
        RETURNING a.cursor, chat.tableoid`;
    },
    // A post moves its chat on in its own append, only from the version just before it: a chat still
    // waiting for an earlier event (a rename the runner has not applied) is left to the runner, or the
    // post would leap over that event and the event's own guard would then drop it.
    MessagePosted(tables, items, appended) {
      const rows = items.map(({ data, eventId }) => ({ event_id: eventId, position: data.position, role: data.role, preview: previewOf(data.content) }));
      return sql.fragment`
        UPDATE ${tables('chats')} AS chat
        SET message_count = GREATEST(chat.message_count, r.position), last_message_role = r.role, last_message_preview = r.preview,
            last_message_at = a.recorded_at, updated_at = a.recorded_at, version = a.stream_version, last_position = a.position
        FROM ${appended} AS a
        JOIN jsonb_to_recordset(${sql.jsonb(rows)}) AS r(event_id uuid, position integer, role text, preview text) ON r.event_id = a.event_id
        WHERE chat.stream_id = a.stream_id AND chat.version = a.stream_version - 1
        RETURNING a.cursor, chat.tableoid`;
    },
  },
  queries: {
    memory: (tables) => ({
      async get(owner, chatId) {
        const chat = (tables.group('chats', owner) as ChatTableRow[]).find((row) => row.chat_id === chatId);
        return chat === undefined || chat.deleted ? null : chatOf(chat);
      },
      async list(owner, { limit, after }) {
        const rows = (tables.group('chats', owner) as ChatTableRow[])
          .filter((row) => !row.deleted && (after === undefined || row.last_position < after.lastPosition))
          .sort((a, b) => b.last_position - a.last_position);
        return rows.slice(0, limit).map(chatOf);
      },
    }),
    postgres: (db, tables) => ({
      async get(owner, chatId) {
        const found = await db.maybeOne(sql.unsafe`
          SELECT ${selectList(chatsTable)} FROM ${tables('chats')}
          WHERE owner = ${owner} AND chat_id = ${chatId} AND NOT deleted`);
        return found === null ? null : chatOf(found as ChatTableRow);
      },
      async list(owner, { limit, after }) {
        const page = after === undefined ? sql.fragment`TRUE` : sql.fragment`last_position < ${after.lastPosition}`;
        const rows = await db.any(sql.unsafe`
          SELECT ${selectList(chatsTable)} FROM ${tables('chats')}
          WHERE owner = ${owner} AND NOT deleted AND ${page}
          ORDER BY last_position DESC
          LIMIT ${limit}`);
        return rows.map((found) => chatOf(found as ChatTableRow));
      },
    }),
  },
};

import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';
import { previewOf } from '../../../projections/chats.ts';
import type { ChatRenamedData, ChatStartedData, MessagePostedData } from '../../chats/events.ts';
import { selectRows } from '../../projection-runner/rows.ts';
import type { TableNames } from '../../projection-runner/tables.ts';
import type { DecodedEvent, RebuildApplier } from './applier.ts';
import { RowCache } from './row-cache.ts';
import { isoTime, rowWriter, toColumns } from './write-rows.ts';

const time = z.union([z.date(), z.number(), z.string()]).transform(isoTime);
const chatRow = z.object({
  stream_id: z.string(),
  owner: z.string(),
  chat_id: z.string(),
  title: z.string(),
  agent_id: z.string().nullable(),
  created_at: time,
  updated_at: time,
  message_count: z.number(),
  last_message_role: z.string().nullable(),
  last_message_preview: z.string().nullable(),
  last_message_at: time.nullable(),
  version: z.number(),
  last_position: z.coerce.number(),
  deleted: z.boolean(),
});

type ChatTableRow = z.output<typeof chatRow>;

const columns = Object.keys(chatRow.shape);

/**
 * The "chats" read model (projections/chats.ts) for a rebuild, by the rules of its handlers: a chat
 * starts once; every later event applies only to a row at an older version.
 */
export function chatsApplier(tables: TableNames, capacity = 100_000, writeBehind = 50_000): RebuildApplier {
  const cache = new RowCache<ChatTableRow>(capacity);
  const write = rowWriter(tables('chats'), { columns, key: ['stream_id'], onConflict: 'replace' });

  const load = async (db: CommonQueryMethods, streams: string[]): Promise<void> => {
    if (streams.length === 0) return;
    if (cache.complete) {
      for (const key of streams) cache.set(key, null);
      return;
    }
    const rows = await selectRows(db, chatRow, sql.unsafe`
      SELECT ${sql.join(columns.map((column) => sql.identifier([column])), sql.fragment`, `)}
      FROM ${tables('chats')} WHERE stream_id = ANY(${sql.array(streams, 'text')})`);
    for (const stream of streams) cache.set(stream, null);
    for (const row of rows) cache.set(row.stream_id, row);
  };

  return {
    updatedInPlace: ['chats'],
    async stage(db, items, generation, flush) {
      const { entries, missing } = cache.lookup(items, (item) => item.event.streamId);
      await load(db, missing);
      for (let i = 0; i < items.length; i++) {
        const item = items[i]!;
        const entry = entries[i] ?? cache.entry(item.event.streamId)!;
        const row = applyChatEvent(entry.row, item);
        if (row !== null) cache.change(entry, row);
      }
      // A chat takes an event every few thousand: its row is written once per many batches, not per batch.
      if (!flush && cache.dirtyCount < writeBehind) return { write: async () => {}, complete: false };
      const rows = toColumns(cache.takeDirty(generation), columns);
      return { write: (tx) => write(tx, rows), complete: true };
    },
    committed: (generation) => cache.trim(generation),
    forget: () => cache.clear(),
    startEmpty: () => cache.startEmpty(),
  };
}

/** The chat's row after the event, or null when the event changes nothing. */
function applyChatEvent(row: ChatTableRow | null, { type, data, event }: DecodedEvent): ChatTableRow | null {
  const at = event.recordedAt.toISOString();
  if (type === 'ChatStarted') {
    // INSERT ... ON CONFLICT (stream_id) DO NOTHING
    if (row !== null) return null;
    const started = data as ChatStartedData;
    return {
      stream_id: event.streamId,
      owner: started.userEmail,
      chat_id: started.chatId,
      title: started.title,
      agent_id: started.agentId,
      created_at: at,
      updated_at: at,
      message_count: 0,
      last_message_role: null,
      last_message_preview: null,
      last_message_at: null,
      version: event.version,
      last_position: event.position,
      deleted: false,
    };
  }
  // UPDATE ... WHERE stream_id = $stream AND version < $version. The row is changed in place: it is
  // this applier's own copy (a write takes its values when staged), and a copy per event is garbage.
  if (row === null || row.version >= event.version) return null;
  if (type !== 'ChatRenamed' && type !== 'MessagePosted' && type !== 'ChatDeleted') return null;
  const next = row;
  next.updated_at = at;
  next.version = event.version;
  next.last_position = event.position;
  switch (type) {
    case 'ChatRenamed':
      next.title = (data as ChatRenamedData).title;
      return next;
    case 'MessagePosted': {
      const posted = data as MessagePostedData;
      next.message_count = Math.max(next.message_count, posted.position);
      next.last_message_role = posted.role;
      next.last_message_preview = previewOf(posted.content);
      next.last_message_at = at;
      return next;
    }
    default:
      next.deleted = true;
      return next;
  }
}

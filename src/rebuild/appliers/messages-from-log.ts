import { type CommonQueryMethods, type IdentifierSqlToken, sql } from 'slonik';
import type { MessagePostedData } from '../../chats/events.ts';
import { bareCursor } from '../../event-store/cursor.ts';

/**
 * Inserts the messages of the `MessagePosted` events at `positions` (a batch's, all between the two
 * cursors) by reading them from the events table: the rows' text never travels through the process.
 * The values are those of the event data the applier parsed (no schema of a message transforms its
 * strings), the time cut to milliseconds as a JavaScript Date holds it. Half the database's work of
 * sending the same rows as JSON arrays, and none of the process's serializing.
 */
export async function insertMessagesFromLog(db: CommonQueryMethods, table: IdentifierSqlToken, positions: readonly number[], first: string, last: string): Promise<void> {
  if (positions.length === 0) return;
  // Cursors may name their store (`tx-position.store`): only the pair bounds the range.
  const [firstTx, firstPosition] = bareCursor(first).split('-') as [string, string];
  const [lastTx, lastPosition] = bareCursor(last).split('-') as [string, string];
  const result = await db.query(sql.unsafe`
    INSERT INTO ${table} (stream_id, position, owner, chat_id, message_id, role, content, client_message_id, trace_id, trace_summary, created_at, cursor)
    SELECT e.stream_id, (e.data->'position')::int, coalesce(e.owner, ''), e.data->>'chatId', (e.data->>'messageId')::uuid, e.data->>'role',
      e.data->>'content', e.data->>'clientMessageId', e.data->>'traceId',
      CASE WHEN jsonb_typeof(e.data->'traceSummary') = 'null' THEN NULL ELSE e.data->'traceSummary' END,
      date_trunc('milliseconds', e.recorded_at), e.tx_id::text || '-' || e.position
    FROM events AS e
    WHERE e.event_type = 'MessagePosted'
      AND (e.tx_id, e.position) >= (${firstTx}::xid8, ${firstPosition}::int8) AND (e.tx_id, e.position) <= (${lastTx}::xid8, ${lastPosition}::int8)
      -- "+ 0": a filter on the range's rows (hashed), not thousands of probes of the position index.
      AND (e.position + 0) = ANY(${sql.array(positions as number[], 'int8')})`);
  // Every position names one event of the range: anything else is a bug, and rolls the batch back.
  if (result.rowCount !== positions.length) throw new Error(`messages from the log: ${result.rowCount} rows for ${positions.length} events`);
}

// The store keeps strings jsonb cannot hold escaped with U+E000 (src/event-store/postgres/json-text.ts);
// the driver writes lone surrogates as U+FFFD. Such a message is sent by value instead.
const escapedInText = /\uE000|\\ud[89a-f]/i;

function plain(text: string | undefined): boolean {
  return text === undefined || (!text.includes('\uE000') && (text as string & { isWellFormed(): boolean }).isWellFormed());
}

/** True when the row read from the event's stored data equals the row built from the parsed data. */
export function copyableFromLog(posted: MessagePostedData): boolean {
  return (
    plain(posted.content) &&
    plain(posted.chatId) &&
    plain(posted.clientMessageId) &&
    plain(posted.traceId) &&
    (posted.traceSummary === undefined || !escapedInText.test(JSON.stringify(posted.traceSummary)))
  );
}

-- For analysts (psql, a Databricks SQL warehouse reading Lakebase through Unity Catalog): what the
-- tables and columns they read mean, and three views of the event log with plain columns
-- (docs/replay.md). The views read `events` only: it is the source of truth, complete as soon as an
-- event is committed, and never swapped by a projection rebuild (a view on a read model would stop
-- the rebuild from dropping the table it replaces).

-- Every message ever posted, one row each; those of a deleted chat too (the read model drops them).
CREATE VIEW analyst_messages AS
SELECT
  data->>'chatId' AS chat_id,
  owner AS user_email,
  data->>'role' AS role,
  data->>'content' AS content,
  recorded_at AS posted_at,
  (data->>'position')::integer AS message_number,
  (data->>'messageId')::uuid AS message_id,
  metadata->>'actor' AS posted_by,
  EXISTS (SELECT 1 FROM events deletion WHERE deletion.stream_id = posted.stream_id AND deletion.event_type = 'ChatDeleted') AS chat_deleted,
  stream_id,
  position AS log_position
FROM events posted
WHERE event_type = 'MessagePosted';

-- Every chat, one row each, as its events leave it (a deleted chat is kept, with deleted = true).
CREATE VIEW analyst_chats AS
SELECT
  min(data->>'chatId') AS chat_id,
  owner AS user_email,
  (array_agg(data->>'title' ORDER BY stream_version DESC) FILTER (WHERE event_type IN ('ChatStarted', 'ChatRenamed')))[1] AS title,
  min(data->>'agentId') FILTER (WHERE event_type = 'ChatStarted') AS agent_id,
  min(recorded_at) FILTER (WHERE event_type = 'ChatStarted') AS started_at,
  count(*) FILTER (WHERE event_type = 'MessagePosted') AS message_count,
  max(recorded_at) FILTER (WHERE event_type = 'MessagePosted') AS last_message_at,
  coalesce((array_agg(event_type ORDER BY stream_version DESC) FILTER (WHERE event_type IN ('ChatStarted', 'ChatDeleted')))[1] = 'ChatDeleted', false) AS deleted,
  stream_id
FROM events
WHERE event_type IN ('ChatStarted', 'ChatRenamed', 'MessagePosted', 'ChatDeleted')
GROUP BY stream_id, owner;

-- Every change of a profile field, one row per field changed: its old and new value as text (JSON
-- text for financialGoals), as the profile history read model has them. A deletion starts the
-- profile over: the first update after it has no old values, like the very first.
CREATE VIEW analyst_profile_changes AS
WITH profile_events AS (
  SELECT *, count(*) FILTER (WHERE event_type = 'ProfileDeleted') OVER (PARTITION BY stream_id ORDER BY stream_version) AS generation
  FROM events
  WHERE event_type IN ('ProfileUpdated', 'ProfileDeleted')
),
field_changes AS (
  SELECT
    e.owner, e.stream_id, e.stream_version, e.recorded_at, e.metadata, e.position, e.generation,
    change.key AS field,
    change.value AS new_value,
    lag(change.value) OVER (PARTITION BY e.stream_id, e.generation, change.key ORDER BY e.stream_version) AS previous_value,
    e.stream_version = min(e.stream_version) OVER (PARTITION BY e.stream_id, e.generation) AS creates
  FROM profile_events e, jsonb_each(e.data->'changes') AS change
  WHERE e.event_type = 'ProfileUpdated'
)
SELECT
  owner AS user_email,
  stream_version AS profile_version,
  field,
  CASE
    WHEN creates THEN NULL
    -- A field never set since the profile was created still had its starting value.
    ELSE coalesce(previous_value, CASE field WHEN 'numberOfDependents' THEN '0'::jsonb WHEN 'financialGoals' THEN '[]'::jsonb ELSE 'null'::jsonb END) #>> '{}'
  END AS old_value,
  new_value #>> '{}' AS new_value,
  recorded_at AS changed_at,
  metadata->>'actor' AS changed_by,
  stream_id,
  position AS log_position
FROM field_changes;

COMMENT ON VIEW analyst_messages IS 'Every chat message ever posted (MessagePosted events), one row each, with plain columns. Read from the event log, so complete as soon as a post is acknowledged.';
COMMENT ON COLUMN analyst_messages.chat_id IS 'The chat id the client chose (unique per user, not across users).';
COMMENT ON COLUMN analyst_messages.user_email IS 'The owner of the chat: the user''s email.';
COMMENT ON COLUMN analyst_messages.role IS 'user, assistant, system or tool.';
COMMENT ON COLUMN analyst_messages.content IS 'The message text, exactly as posted.';
COMMENT ON COLUMN analyst_messages.posted_at IS 'When the post was committed.';
COMMENT ON COLUMN analyst_messages.message_number IS '1, 2, 3... within the chat, without gaps.';
COMMENT ON COLUMN analyst_messages.chat_deleted IS 'True when the chat was deleted later (the app no longer shows its messages).';
COMMENT ON COLUMN analyst_messages.posted_by IS 'Who acted (a user''s email or a service principal''s id), from the event''s metadata.';
COMMENT ON COLUMN analyst_messages.log_position IS 'The event''s position in the log (events.position).';

COMMENT ON VIEW analyst_chats IS 'Every chat, one row each, as its events leave it; deleted chats are kept with deleted = true.';
COMMENT ON COLUMN analyst_chats.chat_id IS 'The chat id the client chose (unique per user, not across users).';
COMMENT ON COLUMN analyst_chats.user_email IS 'The owner of the chat: the user''s email.';
COMMENT ON COLUMN analyst_chats.title IS 'The latest title (ChatStarted, then any ChatRenamed).';
COMMENT ON COLUMN analyst_chats.message_count IS 'Messages posted to the chat, deleted chat or not.';
COMMENT ON COLUMN analyst_chats.deleted IS 'True when the chat was deleted.';

COMMENT ON VIEW analyst_profile_changes IS 'Every change of a profile field, one row per field changed, with its old and new value as text (JSON text for financialGoals). Field names are the API''s (taxFilingStatus, riskTolerance...).';
COMMENT ON COLUMN analyst_profile_changes.user_email IS 'Whose profile: the user''s email.';
COMMENT ON COLUMN analyst_profile_changes.profile_version IS 'The profile stream''s version after the change (1 for the first).';
COMMENT ON COLUMN analyst_profile_changes.field IS 'The profile field, as the API names it (dateOfBirth, annualIncome, riskTolerance, taxFilingStatus...).';
COMMENT ON COLUMN analyst_profile_changes.old_value IS 'The value before the change, as text; NULL when the change created the profile (or re-created it after a deletion).';
COMMENT ON COLUMN analyst_profile_changes.new_value IS 'The value after the change, as text; NULL when the field was cleared.';
COMMENT ON COLUMN analyst_profile_changes.changed_by IS 'Who acted, from the event''s metadata.';

COMMENT ON TABLE events IS 'The event log: every event of every stream, appended once, never updated or deleted. The analyst_* views give messages, chats and profile changes as plain columns.';
COMMENT ON COLUMN events.position IS 'Order of insertion across the log. Has gaps, and is not commit order: readers page by (tx_id, position).';
COMMENT ON COLUMN events.tx_id IS 'The writing transaction; readers use it to never skip an event that commits late.';
COMMENT ON COLUMN events.stream_id IS 'The stream (one per chat or per profile): chat-<uuid> or profile-<uuid>, derived from the owner and the chat id. The chat id itself is data->>''chatId''.';
COMMENT ON COLUMN events.stream_version IS '1, 2, 3... within the stream, without gaps.';
COMMENT ON COLUMN events.event_id IS 'Unique id of the event; a retried append with the same id stores it once.';
COMMENT ON COLUMN events.event_type IS 'ChatStarted, ChatRenamed, MessagePosted, ChatDeleted, ProfileUpdated or ProfileDeleted.';
COMMENT ON COLUMN events.schema_version IS 'Version of the data''s shape for this event type.';
COMMENT ON COLUMN events.data IS 'The event''s content (JSON): for MessagePosted chatId, messageId, position, role, content; for ProfileUpdated the changed fields under changes.';
COMMENT ON COLUMN events.metadata IS 'Who acted (actor), the client, correlation and causation ids (JSON).';
COMMENT ON COLUMN events.owner IS 'The user the stream belongs to (an email).';
COMMENT ON COLUMN events.text_escaped IS 'True when data or metadata held characters jsonb cannot store (U+0000, unpaired surrogates), kept as U+E000 sequences that the app restores on read. Chat and profile events refuse such text, so it is false for them.';
COMMENT ON COLUMN events.recorded_at IS 'When the event was committed.';

COMMENT ON COLUMN chats.stream_id IS 'The chat''s stream in events (chat-<uuid>).';
COMMENT ON COLUMN chats.owner IS 'The user''s email.';
COMMENT ON COLUMN chats.chat_id IS 'The chat id the client chose (unique per user).';
COMMENT ON COLUMN chats.version IS 'The chat stream''s version this row reflects (the chat''s ETag).';
COMMENT ON COLUMN chats.last_position IS 'Log position of the chat''s latest event (the chat list''s order).';
COMMENT ON COLUMN chats.deleted IS 'True for a deleted chat (its row is kept).';
COMMENT ON COLUMN messages.stream_id IS 'The chat''s stream in events (chat-<uuid>).';
COMMENT ON COLUMN messages.position IS 'The message''s number in its chat: 1, 2, 3...';
COMMENT ON COLUMN messages.owner IS 'The user''s email.';
COMMENT ON COLUMN messages.chat_id IS 'The chat id the client chose (unique per user).';
COMMENT ON COLUMN messages.cursor IS 'The event''s cursor: where a WebSocket or replay reader resumes after it.';
COMMENT ON COLUMN profiles.owner IS 'The user''s email.';
COMMENT ON COLUMN profiles.version IS 'The profile stream''s version this row reflects (the profile''s ETag).';
COMMENT ON COLUMN profiles.deleted IS 'True for a deleted profile (its row is kept).';
COMMENT ON COLUMN profiles.financial_goals IS 'A JSON array of goals.';
COMMENT ON COLUMN profile_history.kind IS 'created, updated or deleted.';
COMMENT ON COLUMN profile_history.changes IS 'A JSON array of {field, from, to}; the analyst_profile_changes view has them as rows.';
COMMENT ON COLUMN profile_history.snapshot IS 'The whole profile after the change (JSON); NULL after a deletion.';

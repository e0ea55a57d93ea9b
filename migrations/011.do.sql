-- Read model "chats" (projections/chats.ts). `version` is the chat stream's version the row
-- reflects (the chat's ETag, and the guard that makes a re-applied event a no-op); `last_position`
-- the log position of its latest event (the list's order: unique, so pages never overlap). A deleted
-- chat keeps its row as a tombstone.
CREATE TABLE chats (
  stream_id text PRIMARY KEY,
  owner text NOT NULL,
  chat_id text NOT NULL,
  title text NOT NULL,
  agent_id text,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  message_count integer NOT NULL DEFAULT 0,
  last_message_role text,
  last_message_preview text,
  last_message_at timestamptz,
  version integer NOT NULL,
  last_position bigint NOT NULL,
  deleted boolean NOT NULL DEFAULT false,
  CONSTRAINT chats_owner_chat_id UNIQUE (owner, chat_id)
);

-- A user's chats, most recently active first, paged by position.
CREATE INDEX chats_owner_recent ON chats (owner, last_position DESC) WHERE NOT deleted;

-- Read model "messages" (projections/messages.ts): a chat's messages in order.
CREATE TABLE messages (
  stream_id text NOT NULL,
  position integer NOT NULL,
  owner text NOT NULL,
  chat_id text NOT NULL,
  message_id uuid NOT NULL,
  role text NOT NULL,
  content text NOT NULL,
  client_message_id text,
  trace_id text,
  trace_summary jsonb,
  created_at timestamptz NOT NULL,
  cursor text NOT NULL,
  PRIMARY KEY (stream_id, position)
);

import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import pg from 'pg';

/**
 * The plain CRUD chat a user could write in an afternoon, the baseline of `http_post_crud_ratio`:
 * fastify and pg, two tables, and a post that checks the chat, touches it and inserts the message in
 * ONE statement (its own transaction, so one WAL flush per post). No log, no idempotency, no
 * optimistic concurrency, no read models to keep, no live clients: what lakechat's post adds.
 * Same URL, body and identity header as lakechat's route, so one load client drives both.
 */
export interface CrudChat {
  port: number;
  /** Creates the user's chat `chatId` (what `POST /api/chats` does on lakechat). */
  createChat(owner: string, chatId: string): Promise<void>;
  close(): Promise<void>;
}

const schema = `
  CREATE TABLE IF NOT EXISTS crud_chats (
    owner text NOT NULL, chat_id text NOT NULL, title text NOT NULL DEFAULT '',
    message_count int NOT NULL DEFAULT 0, updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (owner, chat_id));
  CREATE TABLE IF NOT EXISTS crud_messages (
    id bigserial PRIMARY KEY, owner text NOT NULL, chat_id text NOT NULL, position int NOT NULL,
    role text NOT NULL, content text NOT NULL, client_message_id text,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (owner, chat_id, position));`;

const post = `
  WITH chat AS (
    UPDATE crud_chats SET message_count = message_count + 1, updated_at = now()
    WHERE owner = $1 AND chat_id = $2 RETURNING message_count)
  INSERT INTO crud_messages (owner, chat_id, position, role, content, client_message_id)
  SELECT $1, $2, chat.message_count, $3, $4, $5 FROM chat
  RETURNING id::text, position, created_at`;

const messageBody = {
  type: 'object',
  required: ['role', 'content'],
  properties: {
    role: { type: 'string', enum: ['user', 'assistant', 'system'] },
    content: { type: 'string', minLength: 1, maxLength: 100_000 },
    clientMessageId: { type: 'string', maxLength: 128 },
  },
} as const;

interface PostBody {
  role: string;
  content: string;
  clientMessageId?: string;
}

export async function startCrudChat(databaseUrl: string, poolSize: number): Promise<CrudChat> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: poolSize });
  // The bench drops its database at the end (WITH FORCE): an idle connection's error must not crash it.
  pool.on('error', () => undefined);
  await pool.query(schema);
  const app: FastifyInstance = Fastify({ logger: false });
  app.post<{ Params: { chatId: string }; Body: PostBody }>('/api/chats/:chatId/messages', { schema: { body: messageBody } }, async (request, reply) => {
    const owner = request.headers['x-demo-user'];
    if (typeof owner !== 'string' || owner === '') return reply.code(401).send({ error: 'unauthenticated' });
    const { role, content, clientMessageId } = request.body;
    const { rows } = await pool.query<{ id: string; position: number; created_at: Date }>({
      name: 'crud_post',
      text: post,
      values: [owner, request.params.chatId, role, content, clientMessageId ?? null],
    });
    const row = rows[0];
    if (row === undefined) return reply.code(404).send({ error: 'no such chat' });
    return reply.code(201).send({ id: row.id, chatId: request.params.chatId, position: row.position, role, content, createdAt: row.created_at.toISOString() });
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    port: (app.server.address() as AddressInfo).port,
    async createChat(owner, chatId) {
      await pool.query('INSERT INTO crud_chats (owner, chat_id) VALUES ($1, $2) ON CONFLICT DO NOTHING', [owner, chatId]);
    },
    async close() {
      await app.close();
      await pool.end();
    },
  };
}

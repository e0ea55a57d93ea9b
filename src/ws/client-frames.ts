import { z } from 'zod';
import { chatIdSchema, clientMessageIdSchema, messageRoleSchema } from '../chats/events.ts';
import { LakechatError } from '../errors.ts';

/** The frames a client sends (docs/protocol.md). Unknown fields are ignored, so clients can add some. */

const frameId = z.string().min(1).max(128);
/** Cursors are opaque to clients; the store checks them. This only bounds their size. */
const cursor = z.string().min(1).max(100);

export const subscribeFrame = z
  .object({
    type: z.literal('subscribe'),
    id: frameId,
    scope: z.enum(['chat', 'user', 'all']),
    chatId: chatIdSchema.optional(),
    /** A cursor to resume after, null for the beginning; absent for live only. */
    after: cursor.nullable().optional(),
  })
  .superRefine((frame, context) => {
    if (frame.scope === 'chat' && frame.chatId === undefined) {
      context.addIssue({ code: 'custom', path: ['chatId'], message: 'the chat scope needs a chatId' });
    }
    if (frame.scope !== 'chat' && frame.chatId !== undefined) {
      context.addIssue({ code: 'custom', path: ['chatId'], message: `the ${frame.scope} scope takes no chatId` });
    }
  });

export const unsubscribeFrame = z.object({ type: z.literal('unsubscribe'), id: frameId });

export const postFrame = z.object({
  type: z.literal('post'),
  /** The client message id: posting the same id again acks the original message. */
  id: clientMessageIdSchema,
  chatId: chatIdSchema,
  content: z.string().min(1),
  role: messageRoleSchema.default('user'),
});

/** How deep a signal's `data` may nest: deeper is a bad frame (it would only be relayed, never read). */
export const maxSignalDepth = 32;

/** True when `value` nests no deeper than `max` objects or arrays; walks without recursion. */
function nestsWithin(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [item, depth] = stack.pop()!;
    if (typeof item !== 'object' || item === null) continue;
    if (depth > max) return false;
    for (const child of Object.values(item)) if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
  }
  return true;
}

export const signalFrame = z.object({
  type: z.literal('signal'),
  id: frameId.optional(),
  chatId: chatIdSchema,
  kind: z.enum(['typing', 'delta']),
  data: z
    .record(z.string(), z.unknown())
    .refine((data) => nestsWithin(data, maxSignalDepth), { message: `data may nest at most ${maxSignalDepth} levels deep` })
    .default({}),
});

export const pingFrame = z.object({ type: z.literal('ping'), id: frameId.optional() });

const schemas = {
  subscribe: subscribeFrame,
  unsubscribe: unsubscribeFrame,
  post: postFrame,
  signal: signalFrame,
  ping: pingFrame,
} as const;

export type SubscribeFrame = z.infer<typeof subscribeFrame>;
export type UnsubscribeFrame = z.infer<typeof unsubscribeFrame>;
export type PostFrame = z.infer<typeof postFrame>;
export type SignalFrame = z.infer<typeof signalFrame>;
export type PingFrame = z.infer<typeof pingFrame>;
export type ClientFrame = SubscribeFrame | UnsubscribeFrame | PostFrame | SignalFrame | PingFrame;
export type ClientFrameType = keyof typeof schemas;

export type ParsedFrame = { ok: true; frame: ClientFrame } | { ok: false; error: LakechatError; id?: string };

function textOf(data: Buffer | ArrayBuffer | Buffer[]): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}

function isClientFrameType(type: unknown): type is ClientFrameType {
  return typeof type === 'string' && Object.hasOwn(schemas, type);
}

/**
 * Reads one client frame. Never throws: a frame that is binary, not a JSON object, of an unknown
 * type or with bad fields is answered with an error frame and the connection carries on.
 */
export function parseClientFrame(data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): ParsedFrame {
  if (isBinary) return { ok: false, error: new LakechatError('LAKECHAT_ERR_WS_BINARY_FRAME') };
  let value: unknown;
  try {
    value = JSON.parse(textOf(data));
  } catch {
    return { ok: false, error: new LakechatError('LAKECHAT_ERR_WS_INVALID_JSON') };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, error: new LakechatError('LAKECHAT_ERR_WS_INVALID_JSON') };
  }
  const record = value as Record<string, unknown>;
  const id = typeof record.id === 'string' && record.id.length <= 200 ? record.id : undefined;
  const withId = (error: LakechatError): ParsedFrame => (id === undefined ? { ok: false, error } : { ok: false, error, id });
  if (!isClientFrameType(record.type)) {
    const details = typeof record.type === 'string' ? { type: record.type.slice(0, 64) } : { type: null };
    return withId(new LakechatError('LAKECHAT_ERR_WS_UNKNOWN_TYPE', undefined, { details }));
  }
  const parsed = schemas[record.type].safeParse(record);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 20).map((issue) => ({ path: issue.path.join('.'), code: issue.code, message: issue.message }));
    return withId(new LakechatError('LAKECHAT_ERR_WS_INVALID_FRAME', undefined, { details: { issues } }));
  }
  return { ok: true, frame: parsed.data };
}

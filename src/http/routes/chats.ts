import type { FastifyInstance, FastifyRequest } from 'fastify';
import { type ChatService, defaultMessageReadBounds, type MessageReadBounds, MessageReads } from '../../chats/index.ts';
import type { MessageRow } from '../../projection-runner/index.ts';
import { etagOf } from '../etag.ts';
import type { Identity } from '../identity.ts';
import { addRoute, commonErrors, type RouteRegistry } from '../route.ts';
import {
  chatListView,
  chatMessagesInline,
  chatParams,
  chatView,
  chatWithMessagesView,
  createChatBody,
  decodeChatListKey,
  deletedChatsView,
  encodeChatListKey,
  listChatsQuery,
  listMessagesQuery,
  messagePageView,
  postedMessageView,
  postMessageBody,
  renameChatBody,
  toChatView,
  toMessageView,
} from './chat-schemas.ts';

const tag = 'chats';

/** The chat routes: thin translations between HTTP and the ChatService. */
export function registerChatRoutes(
  app: FastifyInstance,
  registry: RouteRegistry,
  authenticate: (request: FastifyRequest) => Identity,
  chats: ChatService,
  /** The bounds of `GET …/messages` pages (`messageReadBoundsFrom(config)`); the documented defaults when absent. */
  messageBounds: MessageReadBounds = defaultMessageReadBounds,
): void {
  const messageReads = new MessageReads(messageBounds);

  addRoute(app, registry, authenticate, {
    method: 'GET',
    url: '/api/chats',
    operationId: 'listChats',
    summary: "The user's chats, most recently active first",
    tag,
    query: listChatsQuery,
    responses: { 200: { description: 'A page of chats', schema: chatListView } },
    errors: [...commonErrors, 'LAKECHAT_ERR_HTTP_VALIDATION'],
    handler: async ({ identity, query }) => {
      const after = query.after === undefined ? undefined : decodeChatListKey(query.after);
      const rows = await chats.listChats(identity.email, { limit: query.limit + 1, after });
      const page = rows.slice(0, query.limit);
      const last = page[page.length - 1];
      return {
        chats: page.map(toChatView),
        next: rows.length > query.limit && last !== undefined ? encodeChatListKey({ lastPosition: last.lastPosition }) : null,
      };
    },
  });

  addRoute(app, registry, authenticate, {
    method: 'POST',
    url: '/api/chats',
    operationId: 'createChat',
    summary: 'Start a chat',
    description: 'With an `id`, starting the same chat again (same title and agent) returns it with 200 instead of 201.',
    tag,
    body: createChatBody,
    responses: {
      201: { description: 'The chat was started', schema: chatView, etag: true },
      200: { description: 'The same chat was started before; here it is', schema: chatView, etag: true },
    },
    errors: [
      ...commonErrors,
      'LAKECHAT_ERR_HTTP_VALIDATION',
      'LAKECHAT_ERR_HTTP_INVALID_JSON',
      'LAKECHAT_ERR_CHAT_ALREADY_EXISTS',
      'LAKECHAT_ERR_CHAT_DELETED',
      'LAKECHAT_ERR_PROJECTION_TIMEOUT',
    ],
    handler: async ({ body, context, reply }) => {
      const { chat, created } = await chats.startChat(context, body);
      void reply
        .code(created ? 201 : 200)
        .header('etag', etagOf(chat.version))
        .header('location', `/api/chats/${encodeURIComponent(chat.chatId)}`);
      return toChatView(chat);
    },
  });

  addRoute(app, registry, authenticate, {
    method: 'GET',
    url: '/api/chats/:chatId',
    operationId: 'getChat',
    summary: 'A chat with its messages',
    description: `At most ${chatMessagesInline} messages are included; page through the rest with /messages.`,
    tag,
    params: chatParams,
    responses: { 200: { description: 'The chat', schema: chatWithMessagesView, etag: true } },
    errors: [...commonErrors, 'LAKECHAT_ERR_HTTP_VALIDATION', 'LAKECHAT_ERR_CHAT_NOT_FOUND'],
    handler: async ({ identity, params, reply }) => {
      const chat = await chats.getChat(identity.email, params.chatId);
      const messages = await chats.listMessages(identity.email, params.chatId, { after: 0, limit: chatMessagesInline + 1 });
      const inline = messages.slice(0, chatMessagesInline);
      void reply.header('etag', etagOf(chat.version));
      return {
        ...toChatView(chat),
        messages: inline.map((row) => toMessageView(row, chats.storeId)),
        messagesNext: messages.length > chatMessagesInline ? inline[inline.length - 1]!.position : null,
      };
    },
  });

  addRoute(app, registry, authenticate, {
    method: 'PATCH',
    url: '/api/chats/:chatId',
    operationId: 'renameChat',
    summary: 'Rename a chat',
    tag,
    params: chatParams,
    body: renameChatBody,
    ifMatch: true,
    responses: { 200: { description: 'The renamed chat', schema: chatView, etag: true } },
    errors: [
      ...commonErrors,
      'LAKECHAT_ERR_HTTP_VALIDATION',
      'LAKECHAT_ERR_HTTP_INVALID_JSON',
      'LAKECHAT_ERR_HTTP_INVALID_IF_MATCH',
      'LAKECHAT_ERR_CHAT_NOT_FOUND',
      'LAKECHAT_ERR_CHAT_DELETED',
      'LAKECHAT_ERR_HTTP_PRECONDITION_FAILED',
      'LAKECHAT_ERR_PROJECTION_TIMEOUT',
    ],
    handler: async ({ params, body, context, ifMatch, reply }) => {
      const chat = await chats.renameChat(context, params.chatId, body.title, ifMatch);
      void reply.header('etag', etagOf(chat.version));
      return toChatView(chat);
    },
  });

  addRoute(app, registry, authenticate, {
    method: 'DELETE',
    url: '/api/chats/:chatId',
    operationId: 'deleteChat',
    summary: 'Delete a chat',
    tag,
    params: chatParams,
    ifMatch: true,
    responses: { 204: { description: 'Deleted' } },
    errors: [
      ...commonErrors,
      'LAKECHAT_ERR_HTTP_VALIDATION',
      'LAKECHAT_ERR_HTTP_INVALID_IF_MATCH',
      'LAKECHAT_ERR_CHAT_NOT_FOUND',
      'LAKECHAT_ERR_CHAT_DELETED',
      'LAKECHAT_ERR_HTTP_PRECONDITION_FAILED',
      'LAKECHAT_ERR_PROJECTION_TIMEOUT',
    ],
    handler: async ({ params, context, ifMatch, reply }) => {
      await chats.deleteChat(context, params.chatId, ifMatch);
      void reply.code(204);
      return null;
    },
  });

  addRoute(app, registry, authenticate, {
    method: 'DELETE',
    url: '/api/chats',
    operationId: 'deleteAllChats',
    summary: "Delete all of the user's chats",
    tag,
    responses: { 200: { description: 'How many chats were deleted', schema: deletedChatsView } },
    errors: [...commonErrors, 'LAKECHAT_ERR_PROJECTION_TIMEOUT'],
    handler: async ({ context }) => ({ deleted: await chats.deleteAllChats(context) }),
  });

  addRoute(app, registry, authenticate, {
    method: 'POST',
    url: '/api/chats/:chatId/messages',
    operationId: 'postMessage',
    summary: 'Post a message to a chat',
    description: 'With a `clientMessageId`, posting again returns the original message (200, `duplicate: true`) and posts nothing.',
    tag,
    params: chatParams,
    body: postMessageBody,
    responses: {
      201: { description: 'The message was posted', schema: postedMessageView, etag: true },
      200: { description: 'This clientMessageId was posted before: the original message', schema: postedMessageView },
    },
    errors: [
      ...commonErrors,
      'LAKECHAT_ERR_HTTP_VALIDATION',
      'LAKECHAT_ERR_HTTP_INVALID_JSON',
      'LAKECHAT_ERR_HTTP_BODY_TOO_LARGE',
      'LAKECHAT_ERR_CHAT_MESSAGE_TOO_LARGE',
      'LAKECHAT_ERR_CHAT_NOT_FOUND',
      'LAKECHAT_ERR_CHAT_DELETED',
      'LAKECHAT_ERR_PROJECTION_TIMEOUT',
    ],
    handler: async ({ params, body, context, reply }) => {
      const posted = await chats.postMessage(context, params.chatId, body);
      void reply.code(posted.duplicate ? 200 : 201);
      // A replay's version is the original post's, not the chat's current one: no ETag for it.
      if (!posted.duplicate) void reply.header('etag', etagOf(posted.version));
      return {
        message: toMessageView(posted.message, chats.storeId),
        position: posted.message.position,
        cursor: posted.cursor,
        version: posted.version,
        duplicate: posted.duplicate,
      };
    },
  });

  addRoute(app, registry, authenticate, {
    method: 'GET',
    url: '/api/chats/:chatId/messages',
    operationId: 'listMessages',
    summary: "A page of a chat's messages, in order",
    tag,
    params: chatParams,
    query: listMessagesQuery,
    responses: { 200: { description: 'Messages after the position given', schema: messagePageView } },
    errors: [...commonErrors, 'LAKECHAT_ERR_HTTP_VALIDATION', 'LAKECHAT_ERR_CHAT_NOT_FOUND'],
    handler: async ({ identity, params, query, reply }) => {
      // A page is cut by bytes as well as by count, and read and sent in turns (per user, per
      // instance): however many large pages are asked for at once, few are in memory.
      const ended = new AbortController();
      reply.raw.once('close', () => ended.abort());
      const release = await messageReads.begin(identity.email, ended.signal);
      reply.raw.once('close', release);
      if (ended.signal.aborted) release();
      // The service hands the options to the read model as they are.
      const options = { after: query.after, limit: query.limit + 1, maxBytes: messageBounds.pageBytes };
      const rows: MessageRow[] & { cutByBytes?: boolean } = await chats.listMessages(identity.email, params.chatId, options);
      const page = rows.slice(0, query.limit);
      const more = rows.length > query.limit || rows.cutByBytes === true;
      return { messages: page.map((row) => toMessageView(row, chats.storeId)), next: more ? page[page.length - 1]!.position : null };
    },
  });
}

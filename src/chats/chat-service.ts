import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import { type CommandContext, CommandHandler, type CommandOutcome, metadataOf, StreamStates } from '../commands/index.ts';
import { isLakechatError, LakechatError } from '../errors.ts';
import { compareCursors, type EventStore, type RecordedEvent } from '../event-store/index.ts';
import { type ChatListKey, type ChatRow, type MessageRow, messageRowOf, type Projections } from '../projection-runner/index.ts';
import { validInput } from '../valid-input.ts';
import { type ChatCommand, type ChatPolicy, postMessageInput, renameChatInput, startChatInput } from './commands.ts';
import { decideChat } from './decide.ts';
import { type ChatEvent, chatIdSchema, parseChatEvent } from './events.ts';
import { evolveChat } from './evolve.ts';
import { type ChatState, initialChatState } from './state.ts';
import { chatStreamId, clientMessageEventId } from './stream-id.ts';

export type StartChatInput = z.input<typeof startChatInput>;

/** `clientMessageId` makes the post idempotent: the same id posted again returns the original message. */
export type PostMessageInput = z.input<typeof postMessageInput>;

export interface PostedMessage {
  message: MessageRow;
  /** The chat stream's version after the post: the chat's new ETag. */
  version: number;
  cursor: string;
  /** True when this was a retry and the original message is returned. */
  duplicate: boolean;
}

export interface ChatServiceOptions {
  store: EventStore;
  projections: Projections;
  policy: ChatPolicy;
  newId?: () => string;
  /**
   * Erases deleted chats' content (src/erasure): their titles, messages and trace summaries become
   * tombstones, their rows outside the log go; ChatDeleted stays. Absent: a deletion only appends ChatDeleted.
   */
  eraseContent?: (selection: { streamIds: readonly string[]; keepTypes: readonly string[] }) => Promise<number>;
}

const deleteAllConcurrency = 8;
/** A user starting chats faster than they are listed cannot keep `DELETE /api/chats` going forever. */
const maxDeleteAllPasses = 5;

/**
 * Everything a client can do with chats, for any transport: the HTTP routes and the WebSocket
 * transport both call this, so a post is the same post whichever way it arrives. Writes return once
 * the read models show them (read your writes); reads come from the read models.
 */
export class ChatService {
  private readonly handler: CommandHandler<ChatState, ChatEvent>;
  private readonly newId: () => string;
  private readonly states: StreamStates<ChatState, ChatEvent>;

  /** The name the store gives itself in cursors: message rows stored with a bare cursor are shown with it. */
  get storeId(): string | null {
    return this.options.store.storeId ?? null;
  }

  constructor(private readonly options: ChatServiceOptions) {
    const states = (this.states = new StreamStates<ChatState, ChatEvent>(options.store, {
      initial: initialChatState,
      evolve: evolveChat,
      parse: parseChatEvent,
    }));
    this.handler = new CommandHandler(options.store, states, parseChatEvent);
    this.newId = options.newId ?? randomUUID;
  }

  /** The stream of a user's chat, for subscribing to it. Says nothing about whether it exists. */
  streamIdOf(owner: string, chatId: string): string {
    return chatStreamId(owner, chatId);
  }

  /** True when the user has this chat. Another user's chat is answered exactly like a missing one. */
  async canRead(owner: string, chatId: string): Promise<boolean> {
    return (await this.options.projections.readModels.chats.get(owner, chatId)) !== null;
  }

  async startChat(context: CommandContext, raw: StartChatInput): Promise<{ chat: ChatRow; created: boolean }> {
    const input = validInput(startChatInput, raw, 'input');
    const chatId = input.id ?? this.newId();
    const outcome = await this.execute(context, chatId, {
      type: 'StartChat',
      chatId,
      owner: context.actor,
      title: input.title,
      agentId: input.agentId,
    });
    return { chat: await this.getChat(context.actor, chatId), created: outcome.events.length > 0 };
  }

  async renameChat(context: CommandContext, chatId: string, title: string, ifMatch?: number): Promise<ChatRow> {
    const input = validInput(renameChatInput, { title }, 'input');
    await this.execute(context, chatId, { type: 'RenameChat', title: input.title }, ifMatch);
    return this.getChat(context.actor, chatId);
  }

  /** Deletes the chat and (with `eraseContent`) erases what it held: title, messages, trace summaries. */
  async deleteChat(context: CommandContext, chatId: string, ifMatch?: number): Promise<void> {
    await this.execute(context, chatId, { type: 'DeleteChat' }, ifMatch);
    await this.eraseDeleted(context.actor, [chatId]);
  }

  /** Drops the cached state of erased streams. */
  forgetStreams(streamIds: readonly string[]): void {
    for (const streamId of streamIds) this.states.forget(streamId);
  }

  private async eraseDeleted(owner: string, chatIds: readonly string[]): Promise<void> {
    if (chatIds.length === 0) return;
    await this.options.eraseContent?.({ streamIds: chatIds.map((chatId) => chatStreamId(owner, chatId)), keepTypes: ['ChatDeleted'] });
  }

  /**
   * Deletes every chat the user had when the request arrived; returns how many were deleted. The list
   * is ordered by latest activity, so a chat that gets a message while the pages are read moves to
   * the top, behind the paging key: the list is read again until a pass finds no chat not yet seen.
   * A chat found on a later pass is deleted only if it existed on arrival (its first event is at or
   * before the log's head then), so a chat started meanwhile survives.
   */
  async deleteAllChats(context: CommandContext): Promise<number> {
    const arrival = await this.options.store.headCursor();
    const seen = new Set<string>();
    let deleted = 0;
    for (let pass = 0; pass < maxDeleteAllPasses; pass++) {
      const fresh = (await this.listChatIds(context.actor)).filter((chatId) => !seen.has(chatId));
      if (fresh.length === 0) break;
      for (const chatId of fresh) seen.add(chatId);
      deleted += await this.deleteChatsThatExisted(context, fresh, pass === 0 ? undefined : arrival);
    }
    return deleted;
  }

  private async listChatIds(owner: string): Promise<string[]> {
    const chatIds: string[] = [];
    let after: ChatListKey | undefined;
    for (;;) {
      const page = await this.options.projections.readModels.chats.list(owner, { limit: 500, after });
      chatIds.push(...page.map((chat) => chat.chatId));
      if (page.length < 500) return chatIds;
      after = { lastPosition: page[page.length - 1]!.lastPosition };
    }
  }

  /** True when the chat's first event is at or before `head` (a cursor of the log). */
  private async existedAt(owner: string, chatId: string, head: string | null): Promise<boolean> {
    if (head === null) return false;
    const first = await this.options.store.readStream(chatStreamId(owner, chatId), { fromVersion: 1, limit: 1 });
    return first.events.length > 0 && compareCursors(first.events[0]!.cursor, head) <= 0;
  }

  /** Deletes the chats (those that existed at `head`, when given), a few at a time. */
  private async deleteChatsThatExisted(context: CommandContext, chatIds: string[], head?: string | null): Promise<number> {
    let deleted = 0;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < chatIds.length) {
        const chatId = chatIds[next++]!;
        if (head !== undefined && !(await this.existedAt(context.actor, chatId, head))) continue;
        try {
          await this.execute(context, chatId, { type: 'DeleteChat' });
          await this.eraseDeleted(context.actor, [chatId]);
          deleted++;
        } catch (error) {
          // Deleted meanwhile, by another request: the goal is reached all the same.
          if (!isLakechatError(error, 'LAKECHAT_ERR_CHAT_DELETED') && !isLakechatError(error, 'LAKECHAT_ERR_CHAT_NOT_FOUND')) throw error;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(deleteAllConcurrency, chatIds.length) }, worker));
    return deleted;
  }

  async postMessage(context: CommandContext, chatId: string, raw: PostMessageInput): Promise<PostedMessage> {
    const input = validInput(postMessageInput, raw, 'input');
    const streamId = chatStreamId(context.actor, chatId);
    const messageId = input.clientMessageId === undefined ? this.newId() : clientMessageEventId(streamId, input.clientMessageId);
    let outcome: CommandOutcome<ChatState, ChatEvent>;
    try {
      outcome = await this.execute(context, chatId, {
        type: 'PostMessage',
        messageId,
        role: input.role,
        content: input.content,
        clientMessageId: input.clientMessageId,
        traceId: input.traceId,
        traceSummary: input.traceSummary,
      });
    } catch (error) {
      // A retry of a post the chat accepted before it was deleted acknowledges the original.
      if (input.clientMessageId === undefined || !isLakechatError(error, 'LAKECHAT_ERR_CHAT_DELETED')) throw error;
      const original = await this.findPosted(streamId, messageId);
      if (original === null) throw error;
      return {
        message: messageRowOf(original.data, { streamId, owner: context.actor, recordedAt: original.event.recordedAt, cursor: original.event.cursor }),
        version: original.event.version,
        cursor: original.event.cursor,
        duplicate: true,
      };
    }
    const posted = outcome.events.find((event) => event.type === 'MessagePosted');
    if (posted === undefined || posted.type !== 'MessagePosted') throw new LakechatError('LAKECHAT_ERR_HTTP_INTERNAL', 'a post appended no message');
    // The read model now holds this message, made from this very event; the runner remembers when it
    // was recorded, so the answer needs no read. Only when it has forgotten is the row read back.
    const recordedAt = posted.recordedAt ?? this.options.projections.runner.recordedAt(posted.eventId);
    const message =
      recordedAt === undefined
        ? await this.options.projections.readModels.messages.get(streamId, posted.data.position)
        : messageRowOf(posted.data, { streamId, owner: context.actor, recordedAt, cursor: posted.cursor });
    if (message === null) throw new LakechatError('LAKECHAT_ERR_CHAT_NOT_FOUND');
    return { message, version: posted.version, cursor: posted.cursor, duplicate: outcome.duplicate };
  }

  /** The stored post with this message id (its event id), read from the chat's stream; null when there is none. */
  private async findPosted(streamId: string, messageId: string): Promise<{ event: RecordedEvent; data: Extract<ChatEvent, { type: 'MessagePosted' }>['data'] } | null> {
    for (let fromVersion = 1; ; ) {
      const page = await this.options.store.readStream(streamId, { fromVersion, limit: 1_000 });
      for (const event of page.events) {
        if (event.eventId !== messageId) continue;
        const parsed = parseChatEvent(event);
        return parsed?.type === 'MessagePosted' ? { event, data: parsed.data } : null;
      }
      if (page.events.length < 1_000) return null;
      fromVersion = page.events[page.events.length - 1]!.version + 1;
    }
  }

  async getChat(owner: string, chatId: string): Promise<ChatRow> {
    const chat = await this.options.projections.readModels.chats.get(owner, chatId);
    if (chat === null) throw new LakechatError('LAKECHAT_ERR_CHAT_NOT_FOUND');
    return chat;
  }

  async listChats(owner: string, options: { limit: number; after?: ChatListKey | undefined }): Promise<ChatRow[]> {
    return this.options.projections.readModels.chats.list(owner, options);
  }

  async listMessages(owner: string, chatId: string, options: { after: number; limit: number }): Promise<MessageRow[]> {
    await this.getChat(owner, chatId);
    return this.options.projections.readModels.messages.list(chatStreamId(owner, chatId), options);
  }

  private async execute(context: CommandContext, chatId: string, command: ChatCommand, ifMatch?: number): Promise<CommandOutcome<ChatState, ChatEvent>> {
    validInput(chatIdSchema, chatId, 'chatId');
    const outcome = await this.handler.handle({
      streamId: chatStreamId(context.actor, chatId),
      owner: context.actor,
      decide: (state) => decideChat(state, command, this.options.policy),
      expectedVersion: ifMatch,
      metadata: metadataOf(context),
      eventIdOf: (event) => (event.type === 'MessagePosted' ? event.data.messageId : undefined),
    });
    await this.options.projections.runner.waitForWrite(outcome.events, outcome.cursor);
    return outcome;
  }
}

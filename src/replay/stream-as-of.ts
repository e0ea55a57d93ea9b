import { type ChatRow, chatsReadModel } from '../../projections/chats.ts';
import { type MessageRow, messagesReadModel } from '../../projections/messages.ts';
import { type ProfileHistoryEntry, profileHistoryReadModel } from '../../projections/profile-history.ts';
import { type ProfileRow, profilesReadModel } from '../../projections/profiles.ts';
import { type ChatState, chatStreamPrefix, evolveChat, initialChatState, parseChatEvent } from '../chats/index.ts';
import { LakechatError } from '../errors.ts';
import type { EventStore, RecordedEvent } from '../event-store/index.ts';
import { evolveProfile, initialProfileState, type ProfileState, parseProfileEvent, profileStreamPrefix } from '../profiles/index.ts';
import { type AnyReadModel, decodeFor, foldEvents, MemoryStore } from '../projection-runner/index.ts';
import { type AsOf, describeAsOf, includes } from './as-of.ts';

/** One stream as it was: its state (what commands decide on) and what the API showed of it then. */
export type StreamAsOf =
  | {
      kind: 'chat';
      stream: string;
      asOf: string;
      version: number;
      cursor: string | null;
      state: ChatState;
      view: { chat: ChatRow | null; messages: MessageRow[] };
    }
  | {
      kind: 'profile';
      stream: string;
      asOf: string;
      version: number;
      cursor: string | null;
      state: ProfileState;
      view: { profile: ProfileRow | null; history: ProfileHistoryEntry[] };
    };

const pageSize = 1_000;

/** Feeds an event to a read model's in-memory tables, by its fold, as the runner would. */
function feed(projection: AnyReadModel, tables: MemoryStore, event: RecordedEvent): void {
  const decoded = decodeFor(projection, event, undefined);
  if (decoded === null) return;
  tables.apply(foldEvents(projection, tables, [{ type: decoded.type, data: decoded.data, event }]));
}

/** The stream's event as its domain reads it; null for one it skips (an unknown type, data that does not parse). */
function parsed<E>(parse: (event: RecordedEvent) => E | null, event: RecordedEvent): E | null {
  try {
    return parse(event);
  } catch {
    return null;
  }
}

/**
 * Folds one chat or profile stream up to the moment, reading only that stream: its domain state and
 * the read models' rows for it, built by the projections' own in-memory handlers.
 */
export async function streamAsOf(store: EventStore, stream: string, asOf: AsOf): Promise<StreamAsOf> {
  const isChat = stream.startsWith(chatStreamPrefix);
  if (!isChat && !stream.startsWith(profileStreamPrefix)) {
    throw new LakechatError('LAKECHAT_ERR_REPLAY_INVALID_ARGUMENT', `--as-of with --stream takes a chat stream (${chatStreamPrefix}...) or a profile stream (${profileStreamPrefix}...)`, {
      details: { argument: 'stream' },
    });
  }
  const projections: AnyReadModel[] = isChat ? [chatsReadModel, messagesReadModel] : [profilesReadModel, profileHistoryReadModel];
  const models = projections.map((projection) => new MemoryStore(projection));
  let chat = initialChatState;
  let profile = initialProfileState;
  let owner: string | null = null;
  let chatId: string | null = null;
  let cursor: string | null = null;
  let version = 0;
  for (let from = 1; ; from += pageSize) {
    const page = await store.readStream(stream, { fromVersion: from, limit: pageSize });
    let stop = page.events.length < pageSize;
    for (const event of page.events) {
      if (!includes(asOf, event)) {
        stop = true;
        break;
      }
      projections.forEach((projection, index) => feed(projection, models[index]!, event));
      if (isChat) {
        const chatEvent = parsed(parseChatEvent, event);
        if (chatEvent !== null) chat = evolveChat(chat, chatEvent);
        if (chatEvent?.type === 'ChatStarted') ({ userEmail: owner, chatId } = chatEvent.data);
      } else {
        const profileEvent = parsed(parseProfileEvent, event);
        if (profileEvent !== null) {
          profile = evolveProfile(profile, profileEvent);
          owner = profileEvent.data.userEmail;
        }
      }
      cursor = event.cursor;
      version = event.version;
    }
    if (stop) break;
  }
  const base = { stream, asOf: describeAsOf(asOf), version, cursor };
  if (isChat) {
    const chats = chatsReadModel.queries.memory(models[0]!);
    const messages = messagesReadModel.queries.memory(models[1]!);
    return {
      kind: 'chat',
      ...base,
      state: chat,
      view: {
        chat: owner === null || chatId === null ? null : await chats.get(owner, chatId),
        messages: await messages.list(stream, { after: 0, limit: Number.MAX_SAFE_INTEGER }),
      },
    };
  }
  const profiles = profilesReadModel.queries.memory(models[0]!);
  const history = profileHistoryReadModel.queries.memory(models[1]!);
  return {
    kind: 'profile',
    ...base,
    state: profile,
    view: {
      profile: owner === null ? null : await profiles.get(owner),
      history: owner === null ? [] : await history.list(owner, { after: 0, limit: Number.MAX_SAFE_INTEGER }),
    },
  };
}

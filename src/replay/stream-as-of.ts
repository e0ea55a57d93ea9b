import { chatsProjection, type ChatRow } from '../../projections/chats.ts';
import { messagesProjection, type MessageRow } from '../../projections/messages.ts';
import { profileHistoryProjection, type ProfileHistoryEntry } from '../../projections/profile-history.ts';
import { profilesProjection, type ProfileRow } from '../../projections/profiles.ts';
import { parseChatEvent } from '../chats/events.ts';
import { evolveChat } from '../chats/evolve.ts';
import { initialChatState, type ChatState } from '../chats/state.ts';
import { chatStreamPrefix } from '../chats/stream-id.ts';
import { LakechatError } from '../errors.ts';
import type { EventStore, RecordedEvent } from '../event-store/index.ts';
import { parseProfileEvent } from '../profiles/events.ts';
import { evolveProfile } from '../profiles/evolve.ts';
import { initialProfileState, type ProfileState } from '../profiles/state.ts';
import { profileStreamPrefix } from '../profiles/stream-id.ts';
import { decodeFor } from '../projection-runner/decode.ts';
import type { AnyProjection } from '../projection-runner/projection.ts';
import { describeAsOf, includes, type AsOf } from './as-of.ts';

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

type Handler = (model: unknown, data: unknown, event: RecordedEvent) => void;

/** Feeds an event to a projection's in-memory read model, exactly as the runner would. */
function feed(projection: AnyProjection, model: unknown, event: RecordedEvent): void {
  const decoded = decodeFor(projection, event, undefined);
  if (decoded === null) return;
  (projection.memory.handlers as Record<string, Handler | undefined>)[decoded.type]?.(model, decoded.data, event);
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
  const projections = isChat ? [chatsProjection, messagesProjection] : [profilesProjection, profileHistoryProjection];
  const models = projections.map((projection) => (projection as AnyProjection).memory.create());
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
      projections.forEach((projection, index) => feed(projection as AnyProjection, models[index], event));
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
    const chats = chatsProjection.memory.queries(models[0] as never);
    const messages = messagesProjection.memory.queries(models[1] as never);
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
  const profiles = profilesProjection.memory.queries(models[0] as never);
  const history = profileHistoryProjection.memory.queries(models[1] as never);
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

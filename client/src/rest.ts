import { LakechatClientError } from './errors.ts';
import type { FetchLike } from './platform.ts';
import type { MessageRole, ProfileChanges, ProfileFields } from './protocol.ts';

/** A chat as the API shows it (docs/api.md). `version` is its ETag. */
export interface Chat {
  id: string;
  title: string;
  agentId: string | null;
  createdAt: string;
  updatedAt: string;
  messageCount: number;
  lastMessage: { role: MessageRole; preview: string; at: string } | null;
  version: number;
}

export interface Message {
  id: string;
  chatId: string;
  position: number;
  role: MessageRole;
  content: string;
  clientMessageId: string | null;
  traceId: string | null;
  traceSummary: Record<string, unknown> | null;
  createdAt: string;
  cursor: string;
}

export interface ChatWithMessages extends Chat {
  messages: Message[];
  messagesNext: number | null;
}

export interface Profile extends ProfileFields {
  email: string;
  age: number | null;
  version: number;
  createdAt: string;
  updatedAt: string;
}

/**
 * Optimistic concurrency: the version (ETag) the write expects, usually the `version` of what was read;
 * `'*'` or nothing: whatever the current version. A stale one fails with
 * LAKECHAT_ERR_HTTP_PRECONDITION_FAILED (`details.currentVersion`), and nothing is written.
 */
export interface WriteOptions {
  ifMatch?: number | '*';
}

export class Rest {
  constructor(
    private readonly baseUrl: string,
    private readonly headers: () => Record<string, string>,
    private readonly fetch: () => FetchLike,
  ) {}

  /** One API call; an error answer becomes a LakechatClientError with the server's code. */
  async request<T>(method: string, path: string, options: { body?: unknown; ifMatch?: number | '*' | undefined; notFound?: 'null' } = {}): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json', ...this.headers() };
    // Every state-changing request says JSON, body or not: the server refuses others (a cross-site form guard).
    if (options.body !== undefined || method !== 'GET') headers['content-type'] = 'application/json';
    if (options.ifMatch !== undefined) headers['if-match'] = options.ifMatch === '*' ? '*' : `"${options.ifMatch}"`;
    let response;
    try {
      response = await this.fetch()(`${this.baseUrl}${path}`, {
        method,
        headers,
        ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
      });
    } catch (error) {
      throw new LakechatClientError('LAKECHAT_CLIENT_NETWORK', `The server did not answer ${method} ${path}`, { cause: error });
    }
    if (response.status === 404 && options.notFound === 'null') return null as T;
    const text = await response.text();
    let body: unknown = null;
    if (text !== '') {
      try {
        body = JSON.parse(text);
      } catch {
        throw new LakechatClientError('LAKECHAT_CLIENT_BAD_RESPONSE', `${method} ${path} answered ${response.status} with something that is not JSON`, { status: response.status });
      }
    }
    if (!response.ok) {
      const error = (body as { error?: { code?: unknown; message?: unknown; details?: unknown } } | null)?.error;
      if (typeof error?.code !== 'string') {
        throw new LakechatClientError('LAKECHAT_CLIENT_BAD_RESPONSE', `${method} ${path} answered ${response.status}`, { status: response.status });
      }
      const details = typeof error.details === 'object' && error.details !== null ? (error.details as Record<string, unknown>) : undefined;
      throw new LakechatClientError(error.code, typeof error.message === 'string' ? error.message : error.code, {
        status: response.status,
        ...(details === undefined ? {} : { details }),
      });
    }
    return body as T;
  }
}

const chatPath = (chatId: string): string => `/api/chats/${encodeURIComponent(chatId)}`;

export class ChatsApi {
  constructor(private readonly rest: Rest) {}

  /** The user's chats, the most recently changed first; pass `next` back as `after` for the next page. */
  list(options: { limit?: number; after?: string } = {}): Promise<{ chats: Chat[]; next: string | null }> {
    const query: string[] = [];
    if (options.limit !== undefined) query.push(`limit=${options.limit}`);
    if (options.after !== undefined) query.push(`after=${encodeURIComponent(options.after)}`);
    return this.rest.request('GET', `/api/chats${query.length === 0 ? '' : `?${query.join('&')}`}`);
  }

  /** The chat with its first 500 messages; null when there is no such chat (or it is deleted). */
  get(chatId: string): Promise<ChatWithMessages | null> {
    return this.rest.request('GET', chatPath(chatId), { notFound: 'null' });
  }

  /** Starts a chat. Starting it again with the same id, title and agent is a retry that answers the same chat. */
  create(chat: { id?: string; title?: string; agentId?: string } = {}): Promise<Chat> {
    return this.rest.request('POST', '/api/chats', { body: chat });
  }

  rename(chatId: string, title: string, options: WriteOptions = {}): Promise<Chat> {
    return this.rest.request('PATCH', chatPath(chatId), { body: { title }, ifMatch: options.ifMatch });
  }

  async remove(chatId: string, options: WriteOptions = {}): Promise<void> {
    await this.rest.request('DELETE', chatPath(chatId), { ifMatch: options.ifMatch });
  }
}

export class ProfileApi {
  constructor(private readonly rest: Rest) {}

  /** The profile, or null when the user has none. */
  get(): Promise<Profile | null> {
    return this.rest.request('GET', '/api/profile', { notFound: 'null' });
  }

  /** Replaces the profile: every field left out is cleared. */
  put(profile: ProfileChanges, options: WriteOptions = {}): Promise<Profile> {
    return this.rest.request('PUT', '/api/profile', { body: profile, ifMatch: options.ifMatch });
  }

  /** Changes the fields given (null clears one). */
  patch(changes: ProfileChanges, options: WriteOptions = {}): Promise<Profile> {
    return this.rest.request('PATCH', '/api/profile', { body: changes, ifMatch: options.ifMatch });
  }

  async remove(options: WriteOptions = {}): Promise<void> {
    await this.rest.request('DELETE', '/api/profile', { ifMatch: options.ifMatch });
  }
}

/**
 * What the client takes from its platform (a browser, or Node >= 22): WebSocket, fetch, timers,
 * randomness and, in a browser, localStorage and the page's location. Typed here, structurally, so the
 * package compiles without the DOM's or Node's type libraries, and looked up on each use, so fake
 * timers in tests and polyfills installed late both work.
 */

export interface MessageEventLike {
  data: unknown;
}

export interface CloseEventLike {
  code: number;
  reason: string;
}

/** The subset of the standard WebSocket the client uses. */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: MessageEventLike) => void) | null;
  onclose: ((event: CloseEventLike) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

export interface ResponseLike {
  readonly status: number;
  readonly ok: boolean;
  readonly headers: { get(name: string): string | null };
  text(): Promise<string>;
}

export type FetchLike = (url: string, init: { method: string; headers: Record<string, string>; body?: string }) => Promise<ResponseLike>;

/** The Web Storage interface (localStorage). */
export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

interface Globals {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  WebSocket?: WebSocketConstructor;
  fetch?: FetchLike;
  crypto?: { getRandomValues(array: Uint8Array): Uint8Array };
  localStorage?: StorageLike;
  location?: { origin: string };
}

const globals = (): Globals => globalThis as unknown as Globals;

export type TimerHandle = unknown;

export function later(callback: () => void, ms: number): TimerHandle {
  return globals().setTimeout(callback, ms);
}

export function cancel(handle: TimerHandle | undefined): void {
  if (handle !== undefined) globals().clearTimeout(handle);
}

export function platformWebSocket(): WebSocketConstructor {
  const webSocket = globals().WebSocket;
  if (webSocket === undefined) throw new Error('No WebSocket on this platform: use Node >= 22 or a browser, or pass the WebSocket option');
  return webSocket;
}

export function platformFetch(): FetchLike {
  const fetch = globals().fetch;
  if (fetch === undefined) throw new Error('No fetch on this platform: use Node >= 22 or a browser, or pass the fetch option');
  return (url, init) => fetch(url, init);
}

export function platformLocalStorage(): StorageLike | undefined {
  try {
    return globals().localStorage;
  } catch {
    return undefined; // a browser that refuses storage (private mode, sandboxed frame)
  }
}

export function pageOrigin(): string | undefined {
  return globals().location?.origin;
}

/**
 * A random UUID (version 4). crypto.randomUUID exists only in secure contexts (https, localhost);
 * getRandomValues exists everywhere, so a page served over plain http on a LAN address works too.
 */
export function randomId(): string {
  const bytes = new Uint8Array(16);
  const crypto = globals().crypto;
  if (crypto !== undefined) crypto.getRandomValues(bytes);
  else for (let i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
  bytes[6] = (bytes[6]! & 0x0f) | 0x40;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = [...bytes].map((byte) => byte.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

import pg from 'pg';
import type { Logger } from 'pino';

export const notificationChannel = 'lakechat_events';

const channelPattern = /^[a-z_][a-z0-9_]{0,62}$/;

export interface NotificationPayload {
  /** The instance that appended. */
  i: string;
  /** The cursor of the newest event it appended. */
  c: string;
}

export interface NotificationListenerOptions {
  /** Connection settings, asked for at every (re)connect so a refreshed password is used. */
  clientConfig(): Promise<pg.ClientConfig>;
  instanceId: string;
  /** Another instance appended; `cursor` is its newest event (a cursor this store can read). */
  onNotification(cursor: string): void;
  /** The connection was (re)established: anything appended while it was down is still to be read. */
  onConnected(): void;
  logger?: Logger | undefined;
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

/** What `listen(channel, onPayload)` is told: return false when the payload is not valid (it is counted). */
export type ChannelHandler = (payload: string) => unknown;

/** PostgreSQL refuses NOTIFY payloads of 8000 bytes or more; ours are far smaller. */
const maxPayloadBytes = 1_024;
const maxInstanceIdLength = 100;
const cursorPattern = /^(\d{1,20})-(\d{1,20})$/;
const maxXid8 = 2n ** 64n - 1n;
const maxInt8 = 2n ** 63n - 1n;

/**
 * Any role that can connect may NOTIFY on our channel: a payload is believed only when it is exactly
 * what CoalescedNotifier sends, an instance id and a cursor the store could have issued.
 */
export function parseNotificationPayload(payload: string | undefined): NotificationPayload | null {
  if (payload === undefined || payload.length > maxPayloadBytes) return null;
  let value: unknown;
  try {
    value = JSON.parse(payload);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const { i, c, ...rest } = value as Record<string, unknown>;
  if (Object.keys(rest).length > 0 || typeof i !== 'string' || typeof c !== 'string') return null;
  if (i.length === 0 || i.length > maxInstanceIdLength) return null;
  const match = cursorPattern.exec(c);
  if (match === null || BigInt(match[1]!) > maxXid8 || BigInt(match[2]!) > maxInt8) return null;
  return { i, c };
}

/**
 * A dedicated connection that LISTENs for appends of other instances (Slonik has no LISTEN, and a
 * pooled or transaction-pooled connection would lose the registration). When it dies (network,
 * pg_terminate_backend, Lakebase scaling to zero) it reconnects with backoff and reports the
 * reconnection, so subscribers read what they missed: a lost notification only costs latency.
 */
export class NotificationListener {
  private client: pg.Client | undefined;
  private closed = false;
  private backoffMs: number;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private connecting: Promise<void> | undefined;
  /** Other channels this connection LISTENs on, for whoever asked (the WebSocket signal relay). */
  private readonly channels = new Map<string, ChannelHandler>();
  /** Payloads ignored as not valid, by channel (for /metrics). */
  private readonly ignored = new Map<string, number>();

  constructor(private readonly options: NotificationListenerOptions) {
    this.backoffMs = options.minBackoffMs ?? 100;
  }

  start(): void {
    if (this.client !== undefined || this.connecting !== undefined || this.reconnectTimer !== undefined || this.closed) return;
    this.connecting = this.connect().finally(() => {
      this.connecting = undefined;
    });
  }

  /**
   * Also LISTEN on `channel`, now and after every reconnect. Unlike appends, nothing is replayed
   * for a channel after a reconnect: what was sent meanwhile is lost, so use it for ephemeral news.
   */
  listen(channel: string, onPayload: ChannelHandler): void {
    if (!channelPattern.test(channel) || channel === notificationChannel) throw new Error(`cannot listen on channel ${channel}`);
    const known = this.channels.has(channel);
    this.channels.set(channel, onPayload);
    if (!known && this.client !== undefined) this.listenOn(this.client, [channel]);
  }

  /** Notifications ignored because their payload was not valid, by channel, since start. */
  ignoredNotifications(): ReadonlyMap<string, number> {
    return this.ignored;
  }

  get connected(): boolean {
    return this.client !== undefined;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    await this.connecting;
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    let client: pg.Client | undefined;
    try {
      const config = await this.options.clientConfig();
      client = new pg.Client({
        keepAlive: true,
        keepAliveInitialDelayMillis: 10_000,
        application_name: `lakechat-listen-${this.options.instanceId}`.slice(0, 63),
        ...config,
      });
      client.on('error', (error) => this.lost(client!, error));
      client.on('end', () => this.lost(client!, undefined));
      client.on('notification', (message) => this.received(message.channel, message.payload));
      await client.connect();
      const listened = [notificationChannel, ...this.channels.keys()];
      await client.query(listened.map((channel) => `LISTEN ${channel}`).join('; '));
      if (this.closed) {
        await client.end().catch(() => undefined);
        return;
      }
      this.client = client;
      const added = [...this.channels.keys()].filter((channel) => !listened.includes(channel));
      if (added.length > 0) this.listenOn(client, added);
      this.backoffMs = this.options.minBackoffMs ?? 100;
      this.options.logger?.debug('listening for event notifications');
      this.options.onConnected();
    } catch (error) {
      client?.removeAllListeners();
      client?.on('error', () => undefined);
      await client?.end().catch(() => undefined);
      this.options.logger?.warn({ err: error, retryInMs: this.backoffMs }, 'event notification listener could not connect');
      this.scheduleReconnect();
    }
  }

  /**
   * Runs inside the driver's event emitter: a throw here would be an uncaught exception, so nothing
   * escapes. An invalid payload is ignored and counted; a lost notification only costs latency.
   */
  private received(channel: string, raw: string | undefined): void {
    try {
      if (channel === notificationChannel) {
        const payload = parseNotificationPayload(raw);
        if (payload === null) return this.ignore(channel, raw);
        if (payload.i === this.options.instanceId) return; // our own appends woke our tail already
        this.options.onNotification(payload.c);
        return;
      }
      const handler = this.channels.get(channel);
      if (handler !== undefined && handler(raw ?? '') === false) this.ignore(channel, raw);
    } catch (error) {
      this.options.logger?.error({ err: error, channel, payloadBytes: Buffer.byteLength(raw ?? '') }, 'a notification handler failed; notification ignored');
    }
  }

  private ignore(channel: string, raw: string | undefined): void {
    const count = (this.ignored.get(channel) ?? 0) + 1;
    this.ignored.set(channel, count);
    // Logged at the 1st, 2nd, 4th, 8th... so a flood cannot flood the log. The payload is not echoed
    // (untrusted input); the channel, its size and the count say enough to find the sender.
    if ((count & (count - 1)) === 0) {
      this.options.logger?.warn({ channel, payloadBytes: Buffer.byteLength(raw ?? ''), ignoredSoFar: count }, 'ignored a notification that is not valid');
    }
  }

  private listenOn(client: pg.Client, channels: readonly string[]): void {
    // A failure here means the connection is going away; the reconnect LISTENs on every channel.
    client.query(channels.map((channel) => `LISTEN ${channel}`).join('; ')).catch((error: unknown) => {
      this.options.logger?.warn({ err: error }, 'LISTEN failed');
    });
  }

  private lost(client: pg.Client, error: Error | undefined): void {
    if (this.client !== client) return; // a client that never finished connecting is handled by connect()
    this.client = undefined;
    client.removeAllListeners();
    client.on('error', () => undefined); // a late socket error must not crash the process
    void client.end().catch(() => undefined);
    if (this.closed) return;
    this.options.logger?.warn({ err: error }, 'event notification listener lost its connection; reconnecting');
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer !== undefined) return;
    const delay = this.backoffMs * (0.5 + Math.random() / 2);
    this.backoffMs = Math.min(this.backoffMs * 2, this.options.maxBackoffMs ?? 5_000);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.start();
    }, delay);
    this.reconnectTimer.unref();
  }
}

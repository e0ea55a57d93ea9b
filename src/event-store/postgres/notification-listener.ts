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
  /** Another instance appended (`cursor` is its newest event), or null when the payload was unreadable. */
  onNotification(cursor: string | null): void;
  /** The connection was (re)established: anything appended while it was down is still to be read. */
  onConnected(): void;
  logger?: Logger | undefined;
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

function parsePayload(payload: string | undefined): NotificationPayload | null {
  try {
    const value: unknown = JSON.parse(payload ?? '');
    if (typeof value === 'object' && value !== null && typeof (value as NotificationPayload).i === 'string' && typeof (value as NotificationPayload).c === 'string') {
      return value as NotificationPayload;
    }
  } catch {
    // fall through: an unreadable payload still means "something was appended"
  }
  return null;
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
  private readonly channels = new Map<string, (payload: string) => void>();

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
  listen(channel: string, onPayload: (payload: string) => void): void {
    if (!channelPattern.test(channel) || channel === notificationChannel) throw new Error(`cannot listen on channel ${channel}`);
    const known = this.channels.has(channel);
    this.channels.set(channel, onPayload);
    if (!known && this.client !== undefined) this.listenOn(this.client, [channel]);
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
      client.on('notification', (message) => {
        if (message.channel !== notificationChannel) {
          this.channels.get(message.channel)?.(message.payload ?? '');
          return;
        }
        const payload = parsePayload(message.payload);
        if (payload?.i === this.options.instanceId) return; // our own appends woke our tail already
        this.options.onNotification(payload?.c ?? null);
      });
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

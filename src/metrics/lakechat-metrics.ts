import { PostgresEventStore, type EventStore } from '../event-store/index.ts';
import type { ProjectionRunner } from '../projection-runner/index.ts';
import type { Storage } from '../storage.ts';
import type { WsHub } from '../ws/index.ts';
import { InstrumentedEventStore } from './instrumented-event-store.ts';
import { MetricsRegistry, type GaugeSample } from './registry.ts';

/** Append latency buckets, in seconds: a group commit on a local disk is ~1 ms, Lakebase a few more. */
const appendBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** What the gauges read when /metrics is scraped; set once the app has built them. */
export interface MetricSources {
  storage: Storage;
  runner?: ProjectionRunner;
  ws?: WsHub;
}

/**
 * Every lakechat metric (docs/operations.md lists them). Counters the app increments live here;
 * the rest are read from their owners at scrape time.
 */
export class LakechatMetrics {
  readonly registry = new MetricsRegistry();
  readonly eventsAppended = this.registry.counter('lakechat_events_appended_total', 'Events appended to the store by this instance, by event type.');
  readonly appendSeconds = this.registry.histogram('lakechat_append_duration_seconds', 'Time to append to the event store, in seconds.', appendBuckets);
  private readonly sources: MetricSources;

  constructor(sources: MetricSources) {
    this.sources = sources;
    const registry = this.registry;
    const ws = (): WsHub | undefined => this.sources.ws;
    const token = () => this.sources.storage.tokenStatus?.() ?? null;

    registry.gauge('lakechat_ws_connections', 'Open WebSocket connections on this instance.', () => [{ value: ws()?.stats().connections ?? 0 }]);
    registry.gauge('lakechat_ws_subscriptions', 'Active WebSocket subscriptions on this instance.', () => [{ value: ws()?.stats().subscriptions ?? 0 }]);
    registry.gauge('lakechat_ws_paused_connections', 'WebSocket connections above their send buffer cap right now.', () => [{ value: ws()?.stats().paused ?? 0 }]);
    registry.observedCounter('lakechat_ws_frames_sent_total', 'WebSocket frames sent to clients by this instance.', () => [{ value: ws()?.traffic.framesSent ?? 0 }]);
    registry.observedCounter('lakechat_ws_signals_dropped_total', 'Signals (typing, deltas) dropped for clients whose send buffer was full.', () => [
      { value: ws()?.traffic.signalsDropped ?? 0 },
    ]);
    registry.gauge('lakechat_projection_lag_events', 'Events in the log the projections have not applied yet (capped at 1000).', async () => {
      const runner = this.sources.runner;
      return runner === undefined ? [] : [{ value: (await runner.lag()).events }];
    });
    registry.gauge('lakechat_projection_lag_seconds', 'Age of the oldest event the projections have not applied; 0 when caught up.', async () => {
      const runner = this.sources.runner;
      return runner === undefined ? [] : [{ value: (await runner.lag()).seconds }];
    });
    registry.gauge('lakechat_projection_parked_events', 'Events the projections could not apply, moved past and recorded in projection_parked_events.', () => {
      const runner = this.sources.runner;
      return runner === undefined ? [] : [{ value: runner.status().parkedEvents }];
    });
    registry.observedCounter('lakechat_token_refreshes_total', 'Database tokens obtained since start.', () => [{ value: token()?.fetches ?? 0 }]);
    registry.observedCounter('lakechat_token_refresh_failures_total', 'Failed attempts to obtain a database token since start.', () => [
      { value: token()?.failures ?? 0 },
    ]);
    registry.gauge('lakechat_db_pool_connections', 'Database pool connections, by state (acquired, idle, pending).', () => {
      const pool = this.sources.storage.pool;
      if (pool === undefined) return [];
      const state = pool.state();
      return [
        { labels: { state: 'acquired' }, value: state.acquiredConnections },
        { labels: { state: 'idle' }, value: state.idleConnections },
        { labels: { state: 'pending' }, value: state.pendingConnections },
      ] satisfies GaugeSample[];
    });
    registry.gauge('lakechat_db_pool_waiting_clients', 'Queries waiting for a database pool connection.', () => {
      const pool = this.sources.storage.pool;
      return pool === undefined ? [] : [{ value: pool.state().waitingClients }];
    });
    registry.observedCounter(
      'lakechat_notifications_ignored_total',
      'NOTIFY payloads ignored because they were not valid (not sent by lakechat, or malformed), by channel.',
      () => {
        const store = this.sources.storage.eventStore;
        if (!(store instanceof PostgresEventStore)) return [];
        const ignored = store.ignoredNotifications();
        return ['lakechat_events', 'lakechat_signals'].map((channel) => ({ labels: { channel }, value: ignored.get(channel) ?? 0 }));
      },
    );
    registry.gauge('lakechat_storage_mode', 'Where events are kept: 1 for the current storage, connection mode and degradation.', () => {
      const status = this.sources.storage.status();
      return [{ labels: { storage: status.storage, mode: status.mode, degraded: String(status.degraded) }, value: 1 }];
    });
  }

  /** The event store with its appends counted and timed. */
  instrument(store: EventStore): EventStore {
    return new InstrumentedEventStore(store, { eventsAppended: this.eventsAppended, appendSeconds: this.appendSeconds });
  }

  /** The sources known only once the app is built (the projections, the WebSocket hub). */
  attach(sources: Partial<MetricSources>): void {
    Object.assign(this.sources, sources);
  }

  render(): Promise<string> {
    return this.registry.render();
  }
}

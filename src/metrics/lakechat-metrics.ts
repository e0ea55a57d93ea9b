import type { FastifyInstance } from 'fastify';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { type EventStore, PostgresEventStore } from '../event-store/index.ts';
import type { ProjectionRunner } from '../projection-runner/index.ts';
import type { Storage } from '../storage.ts';
import type { WsHub } from '../ws/index.ts';
import { InstrumentedEventStore } from './instrumented-event-store.ts';

/** Append latency buckets, in seconds: a group commit on a local disk is ~1 ms, Lakebase a few more. */
const appendBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
/** HTTP request buckets, in seconds: prom-client's defaults, with 1 and 2.5 ms for the fast answers. */
const requestBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** What the gauges read when /metrics is scraped; set once the app has built them. */
export interface MetricSources {
  storage: Storage;
  runner?: ProjectionRunner;
  ws?: WsHub;
}

type Labels = Record<string, string>;
/** What a source says at scrape time: its samples, or none when it is not there (no pool in memory). */
type Samples = { labels?: Labels; value: number }[];

/** The process's own metrics (CPU, memory, heap, event-loop lag, GC): one set per process, however many apps it builds. */
let processRegistry: Registry | undefined;
function processMetrics(): Registry {
  if (processRegistry === undefined) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

/**
 * Every lakechat metric (docs/operations.md lists them), on prom-client. Counters the app increments
 * live here; the rest are read from their owners at scrape time (prom-client's `collect`), so they
 * never drift from what they measure.
 */
export class LakechatMetrics {
  readonly registry = new Registry();
  readonly eventsAppended = new Counter({
    name: 'lakechat_events_appended_total',
    help: 'Events appended to the store by this instance, by event type.',
    labelNames: ['type'],
    registers: [this.registry],
  });
  readonly appendSeconds = new Histogram({
    name: 'lakechat_append_duration_seconds',
    help: 'Time to append to the event store, in seconds.',
    buckets: appendBuckets,
    registers: [this.registry],
  });
  readonly requestSeconds = new Histogram({
    name: 'lakechat_http_request_duration_seconds',
    help: 'Time to answer an HTTP request, in seconds, by method, route pattern and status.',
    labelNames: ['method', 'route', 'status'],
    buckets: requestBuckets,
    registers: [this.registry],
  });
  private readonly sources: MetricSources;

  constructor(sources: MetricSources) {
    this.sources = sources;
    const ws = (): WsHub | undefined => this.sources.ws;
    const token = () => this.sources.storage.tokenStatus?.() ?? null;
    const runner = (): ProjectionRunner | undefined => this.sources.runner;

    this.gauge('lakechat_ws_connections', 'Open WebSocket connections on this instance.', [], () => [{ value: ws()?.stats().connections ?? 0 }]);
    this.gauge('lakechat_ws_subscriptions', 'Active WebSocket subscriptions on this instance.', [], () => [{ value: ws()?.stats().subscriptions ?? 0 }]);
    this.gauge('lakechat_ws_paused_connections', 'WebSocket connections above their send buffer cap right now.', [], () => [{ value: ws()?.stats().paused ?? 0 }]);
    this.counter('lakechat_ws_frames_sent_total', 'WebSocket frames sent to clients by this instance.', [], () => [{ value: ws()?.traffic.framesSent ?? 0 }]);
    this.counter('lakechat_ws_signals_dropped_total', 'Signals (typing, deltas) dropped for clients whose send buffer was full.', [], () => [{ value: ws()?.traffic.signalsDropped ?? 0 }]);
    this.gauge('lakechat_projection_lag_events', 'Events in the log the projections have not applied yet (capped at 1000).', [], async () => {
      const running = runner();
      return running === undefined ? [] : [{ value: (await running.lag()).events }];
    });
    this.gauge('lakechat_projection_lag_seconds', 'Age of the oldest event the projections have not applied; 0 when caught up.', [], async () => {
      const running = runner();
      return running === undefined ? [] : [{ value: (await running.lag()).seconds }];
    });
    this.gauge('lakechat_projection_parked_events', 'Events the projections could not apply, moved past and recorded in projection_parked_events.', [], () => {
      const running = runner();
      return running === undefined ? [] : [{ value: running.status().parkedEvents }];
    });
    this.counter('lakechat_token_refreshes_total', 'Database tokens obtained since start.', [], () => [{ value: token()?.fetches ?? 0 }]);
    this.counter('lakechat_token_refresh_failures_total', 'Failed attempts to obtain a database token since start.', [], () => [{ value: token()?.failures ?? 0 }]);
    this.gauge('lakechat_db_pool_connections', 'Database pool connections, by state (acquired, idle, pending).', ['state'], () => {
      const pool = this.sources.storage.pool;
      if (pool === undefined) return [];
      const state = pool.state();
      return [
        { labels: { state: 'acquired' }, value: state.acquiredConnections },
        { labels: { state: 'idle' }, value: state.idleConnections },
        { labels: { state: 'pending' }, value: state.pendingConnections },
      ];
    });
    this.gauge('lakechat_db_pool_waiting_clients', 'Queries waiting for a database pool connection.', [], () => {
      const pool = this.sources.storage.pool;
      return pool === undefined ? [] : [{ value: pool.state().waitingClients }];
    });
    this.counter('lakechat_notifications_ignored_total', 'NOTIFY payloads ignored because they were not valid (not sent by lakechat, or malformed), by channel.', ['channel'], () => {
      const store = this.sources.storage.eventStore;
      if (!(store instanceof PostgresEventStore)) return [];
      const ignored = store.ignoredNotifications();
      return ['lakechat_events', 'lakechat_signals'].map((channel) => ({ labels: { channel }, value: ignored.get(channel) ?? 0 }));
    });
    this.gauge('lakechat_storage_mode', 'Where events are kept: 1 for the current storage, connection mode and degradation.', ['storage', 'mode', 'degraded'], () => {
      const status = this.sources.storage.status();
      return [{ labels: { storage: status.storage, mode: status.mode, degraded: String(status.degraded) }, value: 1 }];
    });
  }

  /**
   * A gauge read from its source at scrape time. A source that fails leaves the scrape whole: its
   * samples are absent (NaN for a gauge without labels, which prom-client always shows).
   */
  private gauge(name: string, help: string, labelNames: string[], read: () => Samples | Promise<Samples>): void {
    new Gauge({
      name,
      help,
      labelNames,
      registers: [this.registry],
      async collect() {
        let samples: Samples;
        try {
          samples = await read();
        } catch {
          this.reset();
          if (labelNames.length === 0) this.set(Number.NaN);
          return;
        }
        this.reset();
        for (const { labels, value } of samples) this.set(labels ?? {}, value);
      },
    });
  }

  /** A counter some other module keeps (the token provider's fetches, the hub's frames), read at scrape time. */
  private counter(name: string, help: string, labelNames: string[], read: () => Samples): void {
    new Counter({
      name,
      help,
      labelNames,
      registers: [this.registry],
      collect() {
        let samples: Samples;
        try {
          samples = read();
        } catch {
          samples = [];
        }
        this.reset();
        for (const { labels, value } of samples) this.inc(labels ?? {}, value);
      },
    });
  }

  /** The event store with its appends counted and timed. */
  instrument(store: EventStore): EventStore {
    return new InstrumentedEventStore(store, { eventsAppended: this.eventsAppended, appendSeconds: this.appendSeconds });
  }

  /**
   * Times every HTTP answer by method, route pattern (`/api/chats/:id`, never the URL: one series per
   * route, whatever the ids) and status; a request no route matched counts as route `unmatched`.
   */
  timeRequests(app: FastifyInstance): void {
    app.addHook('onResponse', async (request, reply) => {
      const route = request.routeOptions.url ?? 'unmatched';
      this.requestSeconds.observe({ method: request.method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1_000);
    });
  }

  /** The sources known only once the app is built (the projections, the WebSocket hub). */
  attach(sources: Partial<MetricSources>): void {
    Object.assign(this.sources, sources);
  }

  /** The content type of `render()`'s text: Prometheus text format 0.0.4. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /**
   * The process's metrics, then lakechat's, in the Prometheus text format: without prom-client's blank
   * lines between metrics, and NaN (the event-loop lag before its first sample) spelt as the format does.
   */
  async render(): Promise<string> {
    const text = `${await processMetrics().metrics()}${await this.registry.metrics()}`;
    return text.replace(/\n{2,}/g, '\n').replace(/ Nan$/gm, ' NaN');
  }
}

import type { Counter, Histogram } from 'prom-client';
import type {
  AppendOptions,
  AppendResult,
  AppendSteps,
  EraseOptions,
  EraseResult,
  EraseSelection,
  EventStore,
  NewEvent,
  ReadAllOptions,
  ReadAllResult,
  ReadStreamOptions,
  ReadStreamResult,
  RecordedEvent,
  SubscribeOptions,
} from '../event-store/index.ts';

export interface AppendMetrics {
  eventsAppended: Counter<'type'>;
  appendSeconds: Histogram;
}

/**
 * The event store with its appends counted and timed, wrapped at the contract so neither store
 * implementation knows about metrics. An idempotent retry that wrote nothing counts no event; a
 * failed append counts only its latency.
 */
export class InstrumentedEventStore implements EventStore {
  constructor(
    private readonly store: EventStore,
    private readonly metrics: AppendMetrics,
  ) {}

  get kind(): EventStore['kind'] {
    return this.store.kind;
  }

  get storeId(): string | null {
    return this.store.storeId ?? null;
  }

  async append(streamId: string, events: readonly NewEvent[], options?: AppendOptions): Promise<AppendResult> {
    const started = process.hrtime.bigint();
    try {
      const result = await this.store.append(streamId, events, options);
      if (!result.duplicate) for (const event of events) this.metrics.eventsAppended.inc({ type: event.type });
      return result;
    } finally {
      this.metrics.appendSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
    }
  }

  readStream(streamId: string, options?: ReadStreamOptions): Promise<ReadStreamResult> {
    return this.store.readStream(streamId, options);
  }

  async erase(selection: EraseSelection, options: EraseOptions): Promise<EraseResult> {
    if (this.store.erase === undefined) throw new Error('this event store cannot erase');
    return this.store.erase(selection, options);
  }

  readAll(options?: ReadAllOptions): Promise<ReadAllResult> {
    return this.store.readAll(options);
  }

  projectInAppend(steps: AppendSteps | undefined): void {
    this.store.projectInAppend?.(steps);
  }

  async checkCursor(cursor: string): Promise<void> {
    await this.store.checkCursor?.(cursor);
  }

  headCursor(): Promise<string | null> {
    return this.store.headCursor();
  }

  subscribe(options?: SubscribeOptions): AsyncIterableIterator<RecordedEvent> {
    return this.store.subscribe(options);
  }

  close(): Promise<void> {
    return this.store.close();
  }
}

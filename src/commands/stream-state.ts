import type { EventStore, RecordedEvent } from '../event-store/index.ts';

/** How the state of one kind of stream is folded from its events. */
export interface StreamFold<State extends { readonly version: number }, Event> {
  readonly initial: State;
  evolve(state: State, event: Event): State;
  /** The domain event a stored one holds; null for a type this fold does not know (skipped). */
  parse(event: RecordedEvent): Event | null;
}

const pageSize = 1_000;

/**
 * The write side's view of individual streams: each stream's state folded from its events and kept
 * in a bounded LRU, so deciding a command usually costs no read at all. The cache may be stale when
 * another instance wrote; the append's expected version catches that, and `refresh` reads only the
 * events after the cached version.
 */
export class StreamStates<State extends { readonly version: number }, Event> {
  private readonly cache = new Map<string, State>();

  constructor(
    private readonly store: EventStore,
    private readonly fold: StreamFold<State, Event>,
    private readonly maxEntries = 10_000,
  ) {}

  async load(streamId: string): Promise<State> {
    const cached = this.cache.get(streamId);
    if (cached !== undefined) {
      this.cache.delete(streamId);
      this.cache.set(streamId, cached);
      return cached;
    }
    return this.refresh(streamId, this.fold.initial);
  }

  /** Reads the events after `state` and folds them in; the result is cached. */
  async refresh(streamId: string, state: State): Promise<State> {
    let current = state;
    for (;;) {
      const page = await this.store.readStream(streamId, { fromVersion: current.version + 1, limit: pageSize });
      // The stream is shorter than the cached state: it was erased (renamed away); start afresh.
      if (page.version < current.version) {
        this.cache.delete(streamId);
        current = this.fold.initial;
        if (page.version > 0) continue;
      }
      current = this.foldEvents(current, page.events);
      if (page.events.length < pageSize || current.version >= page.version) break;
    }
    this.remember(streamId, current);
    return current;
  }

  foldEvents(state: State, events: readonly RecordedEvent[]): State {
    let current = state;
    for (const recorded of events) current = this.apply(current, this.fold.parse(recorded), recorded.version);
    return current;
  }

  /** Folds one event stored at `version`; null stands for an event this fold does not know. */
  apply(state: State, event: Event | null, version: number): State {
    const next = event === null ? state : this.fold.evolve(state, event);
    // The stored version is the truth, even across events this fold skips.
    return next.version === version ? next : { ...next, version };
  }

  remember(streamId: string, state: State): void {
    const cached = this.cache.get(streamId);
    if (cached !== undefined && cached.version > state.version) return;
    this.cache.delete(streamId);
    this.cache.set(streamId, state);
    if (this.cache.size > this.maxEntries) {
      const oldest = this.cache.keys().next();
      if (oldest.done !== true) this.cache.delete(oldest.value);
    }
  }

  forget(streamId: string): void {
    this.cache.delete(streamId);
  }
}

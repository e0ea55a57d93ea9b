import {
  type AppendOptions,
  type AppendResult,
  decodeCursor,
  type EraseOptions,
  type EraseResult,
  type EraseSelection,
  type EventStore,
  type MemoryEventStore,
  type NewEvent,
  type ReadAllOptions,
  type ReadAllResult,
  type ReadStreamOptions,
  type ReadStreamResult,
  type RecordedEvent,
  type SubscribeOptions,
} from '../event-store/index.ts';

const pageSize = 1_000;

/** Where readers of the retired memory log continue on PostgreSQL once they have read all of it. */
interface Retired {
  memory: MemoryEventStore;
  /** A PostgreSQL cursor past every forwarded event: the memory log's events are all before it. */
  resumeAfter: string | null;
}

/**
 * The event store of an instance that started on the memory fallback: memory first, PostgreSQL once
 * the database answers and the memory log has been forwarded to it (see fallback-storage.ts). The
 * switch holds appends back while the last events are forwarded; readers never notice more than a
 * change in the cursors' form. A reader still on the memory log (a live subscription, or a client
 * resuming from a memory cursor) reads the rest of the memory log, which no longer changes, then goes
 * on in PostgreSQL after the last forwarded event: each event once, in the order this instance showed
 * it. Events other instances wrote to PostgreSQL while this one was on its own were never in its view
 * and are not replayed to those readers (they are in the log, the read models and every new reader).
 */
export class SwitchableEventStore implements EventStore {
  private target: EventStore;
  private retired: Retired | null = null;
  private gate: Promise<void> | null = null;
  private openGate: (() => void) | null = null;
  private appending = 0;
  private idle: (() => void)[] = [];
  private readonly switched = new AbortController();

  constructor(readonly memory: MemoryEventStore) {
    this.target = memory;
  }

  /** The name the current store gives itself in its cursors. */
  get storeId(): string | null {
    return this.target.storeId ?? null;
  }

  get kind(): EventStore['kind'] {
    return this.target.kind;
  }

  /** The store appends go to now. */
  get current(): EventStore {
    return this.target;
  }

  /** Holds new appends back; resolves once the appends already under way have settled. */
  async pause(): Promise<void> {
    if (this.gate === null) this.gate = new Promise((resolve) => (this.openGate = resolve));
    if (this.appending > 0) await new Promise<void>((resolve) => this.idle.push(resolve));
  }

  /** Lets the held appends go on, to whichever store is current. */
  resume(): void {
    const open = this.openGate;
    this.gate = null;
    this.openGate = null;
    open?.();
  }

  /** From now on everything goes to `store`; readers on the memory log move over after `resumeAfter`. */
  switchTo(store: EventStore, resumeAfter: string | null): void {
    this.retired = { memory: this.memory, resumeAfter };
    this.target = store;
    this.switched.abort();
    this.resume();
  }

  async append(streamId: string, events: readonly NewEvent[], options?: AppendOptions): Promise<AppendResult> {
    while (this.gate !== null) await this.gate;
    const target = this.target;
    this.appending++;
    try {
      return await target.append(streamId, events, options);
    } finally {
      if (--this.appending === 0) for (const resolve of this.idle.splice(0)) resolve();
    }
  }

  readStream(streamId: string, options?: ReadStreamOptions): Promise<ReadStreamResult> {
    return this.target.readStream(streamId, options);
  }

  /** Erases in the current store and, after the switch, in the retired memory log too (its readers still read it). */
  async erase(selection: EraseSelection, options: EraseOptions): Promise<EraseResult> {
    const retired = this.retired;
    if (retired !== null) await retired.memory.erase(selection, options);
    if (this.target.erase === undefined) throw new Error('this event store cannot erase');
    return this.target.erase(selection, options);
  }

  async readAll(options: ReadAllOptions = {}): Promise<ReadAllResult> {
    const retired = this.retired;
    if (retired === null || !this.namesMemory(options.after)) return this.target.readAll(options);
    // A memory cursor after the switch: the rest of the memory log, then PostgreSQL.
    const page = await retired.memory.readAll(options);
    if (page.events.length > 0) return page;
    return this.target.readAll({ ...options, after: retired.resumeAfter });
  }

  async checkCursor(cursor: string): Promise<void> {
    if (this.retired !== null && this.namesMemory(cursor)) return this.retired.memory.checkCursor(cursor);
    await this.target.checkCursor?.(cursor);
  }

  headCursor(): Promise<string | null> {
    return this.target.headCursor();
  }

  async *subscribe(options: SubscribeOptions = {}): AsyncGenerator<RecordedEvent, void, undefined> {
    let caughtUp = false;
    const onCaughtUp = (cursor: string | null): void => {
      if (caughtUp) return;
      caughtUp = true;
      options.onCaughtUp?.(cursor);
    };
    let after = options.after;
    if (this.retired === null) {
      // On the memory log until the switch, then read what this subscription had not yet.
      if (after === undefined || after === 'end') after = await this.memory.headCursor();
      const signals = [this.switched.signal, ...(options.signal === undefined ? [] : [options.signal])];
      const events = this.memory.subscribe({ ...options, after, onCaughtUp, signal: AbortSignal.any(signals) });
      for await (const event of events) {
        yield event;
        after = event.cursor;
      }
      if (options.signal?.aborted === true || this.retired === null) return;
    } else if (!this.namesMemory(after)) {
      yield* this.target.subscribe({ ...options, onCaughtUp });
      return;
    }
    const retired = this.retired;
    for (;;) {
      const page = await retired.memory.readAll({ ...options.filter, after: after as string | null, limit: pageSize });
      for (const event of page.events) yield event;
      if (page.events.length === 0) break;
      after = page.cursor;
    }
    if (options.signal?.aborted === true) return;
    options.onStoreChanged?.();
    yield* this.target.subscribe({ ...options, after: retired.resumeAfter, onCaughtUp });
  }

  async close(): Promise<void> {
    await this.target.close();
    if (this.target !== this.memory) await this.memory.close();
  }

  private namesMemory(cursor: string | null | undefined): boolean {
    return typeof cursor === 'string' && cursor !== 'end' && decodeCursor(cursor).store === this.memory.storeId;
  }
}

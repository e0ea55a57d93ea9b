import { LakechatError } from '../errors.ts';
import { type EventMetadata, type EventStore, type NewEvent, WrongExpectedVersionError } from '../event-store/index.ts';
import { KeyedLock } from './keyed-lock.ts';
import type { StreamStates } from './stream-state.ts';

export interface DomainEvent {
  type: string;
  data: Record<string, unknown>;
}

export type AppendedDomainEvent<Event extends DomainEvent> = Event & {
  eventId: string;
  version: number;
  position: number;
  cursor: string;
  /** Known when the event was read back from the store (an idempotent retry's originals). */
  recordedAt?: Date;
};

export interface CommandRequest<State, Event extends DomainEvent> {
  streamId: string;
  /** The user the stream belongs to, stored on every event. */
  owner: string;
  decide(state: State): Event[];
  /** The version the client last saw (If-Match): anything else fails with 412 and writes nothing. */
  expectedVersion?: number | undefined;
  metadata: EventMetadata;
  /** A fixed event id makes the command idempotent: a retry returns the original events. */
  eventIdOf?(event: Event): string | undefined;
}

export interface CommandOutcome<State, Event extends DomainEvent> {
  state: State;
  /** What was appended; on an idempotent retry, the original events. Empty when nothing changed. */
  events: AppendedDomainEvent<Event>[];
  /** The cursor to wait for before reading; null when nothing was appended. */
  cursor: string | null;
  duplicate: boolean;
}

/**
 * Another instance appending to the same stream makes an append fail on its version; the command is
 * decided again on fresh state. The winner of such a race is usually the instance that just wrote
 * (its state is warm), so one instance's burst on a stream can beat the other's command several
 * times in a row: the budget is generous, and the retries back off a little, at random.
 */
const maxAttempts = 12;
const backoff = (attempt: number): Promise<void> => (attempt < 2 ? Promise.resolve() : new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(2 ** attempt, 50))));

function preconditionFailed(currentVersion: number): LakechatError {
  return new LakechatError('LAKECHAT_ERR_HTTP_PRECONDITION_FAILED', undefined, { details: { currentVersion } });
}

/**
 * Decides and appends one command on one stream. The state comes from the cache; the append names the
 * version it was decided at, so a stale cache can only cause a retry, never a wrong write. A rejection
 * or a no-op decided on cached state is checked again on fresh state before it is believed.
 */
export class CommandHandler<State extends { readonly version: number }, Event extends DomainEvent> {
  private readonly lock = new KeyedLock();

  constructor(
    private readonly store: EventStore,
    private readonly states: StreamStates<State, Event>,
    private readonly parse: (event: { type: string; data: unknown }) => Event | null,
  ) {}

  handle(request: CommandRequest<State, Event>): Promise<CommandOutcome<State, Event>> {
    return this.lock.run(request.streamId, () => this.run(request));
  }

  private async run(request: CommandRequest<State, Event>): Promise<CommandOutcome<State, Event>> {
    const { streamId, expectedVersion } = request;
    let state = await this.states.load(streamId);
    let fresh = false;
    const refresh = async (): Promise<void> => {
      state = await this.states.refresh(streamId, state);
      fresh = true;
    };
    for (let attempt = 1; ; attempt++) {
      if (expectedVersion !== undefined && state.version !== expectedVersion) {
        if (!fresh) await refresh();
        if (state.version !== expectedVersion) throw preconditionFailed(state.version);
      }
      let events: Event[];
      try {
        events = request.decide(state);
      } catch (error) {
        if (fresh) throw error;
        await refresh();
        continue;
      }
      if (events.length === 0) {
        if (fresh) return { state, events: [], cursor: null, duplicate: false };
        await refresh();
        continue;
      }
      try {
        const newEvents = events.map((event): NewEvent => {
          const eventId = request.eventIdOf?.(event);
          return {
            ...(eventId === undefined ? {} : { eventId }),
            type: event.type,
            data: event.data,
            metadata: request.metadata,
          };
        });
        const result = await this.store.append(streamId, newEvents, { expectedVersion: state.version, owner: request.owner });
        if (result.duplicate) {
          const first = result.events[0]!.version;
          const stored = await this.store.readStream(streamId, { fromVersion: first, limit: result.events.length });
          await refresh();
          const originals = stored.events.map((recorded) => ({
            ...(this.parse(recorded) as Event),
            eventId: recorded.eventId,
            version: recorded.version,
            position: recorded.position,
            cursor: recorded.cursor,
            recordedAt: recorded.recordedAt,
          }));
          return { state, events: originals, cursor: result.cursor, duplicate: true };
        }
        const appended = events.map((event, index) => ({ ...event, ...result.events[index]! }));
        let next = state;
        for (const event of appended) next = this.states.apply(next, event, event.version);
        this.states.remember(streamId, next);
        return { state: next, events: appended, cursor: result.cursor, duplicate: false };
      } catch (error) {
        if (!(error instanceof WrongExpectedVersionError) || attempt >= maxAttempts) throw error;
        await backoff(attempt);
        await refresh();
      }
    }
  }
}

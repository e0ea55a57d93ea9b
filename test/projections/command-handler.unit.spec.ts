import { describe, expect, it } from 'vitest';
import { CommandHandler, StreamStates } from '../../src/commands/index.ts';
import { type EventStore, MemoryEventStore, WrongExpectedVersionError } from '../../src/event-store/index.ts';

interface Tally {
  version: number;
  count: number;
}
type Counted = { type: 'Counted'; data: { by: string } };

const stream = 'tally-1';

/**
 * A store where another instance wins the race `losses` times: just before each of the handler's
 * first appends, a rival appends to the same stream, so the handler's expected version is stale.
 */
function contendedStore(losses: number): { store: EventStore; attempts: () => number } {
  const inner = new MemoryEventStore();
  let attempts = 0;
  const store = Object.assign(Object.create(inner) as EventStore, {
    append: async (...args: Parameters<EventStore['append']>) => {
      attempts++;
      if (attempts <= losses) await inner.append(stream, [{ type: 'Counted', data: { by: 'rival' } }]);
      return inner.append(...args);
    },
  });
  return { store, attempts: () => attempts };
}

function handlerOn(store: EventStore): CommandHandler<Tally, Counted> {
  const parse = (event: { type: string; data: unknown }): Counted | null => (event.type === 'Counted' ? (event as Counted) : null);
  const states = new StreamStates<Tally, Counted>(store, {
    initial: { version: 0, count: 0 },
    evolve: (state) => ({ ...state, count: state.count + 1 }),
    parse,
  });
  return new CommandHandler(store, states, parse);
}

const count = (handler: CommandHandler<Tally, Counted>) =>
  handler.handle({ streamId: stream, owner: 'ana@example.com', decide: () => [{ type: 'Counted', data: { by: 'us' } }], metadata: { actor: 'ana@example.com' } });

describe('a command on a stream another instance keeps writing to', () => {
  it('is decided again on fresh state until it lands, even after a burst of lost races', async () => {
    const { store, attempts } = contendedStore(8);
    const outcome = await count(handlerOn(store));
    expect(attempts()).toBe(9);
    // Eight rival events, then ours, decided on the state that includes all of them.
    expect(outcome.state).toEqual({ version: 9, count: 9 });
    expect(outcome.events.map((event) => event.version)).toEqual([9]);
  });

  it('gives up with the concurrency error when it never wins, writing nothing of its own', async () => {
    const { store } = contendedStore(Number.POSITIVE_INFINITY);
    await expect(count(handlerOn(store))).rejects.toBeInstanceOf(WrongExpectedVersionError);
    const { events } = await store.readStream(stream);
    expect(events.every((event) => (event.data as { by: string }).by === 'rival')).toBe(true);
  });
});

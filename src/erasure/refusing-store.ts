import type { AppendOptions, AppendResult, EventStore, NewEvent } from '../event-store/index.ts';

/**
 * The event store the services write through: an append for a user whose erasure runs on this
 * instance is refused (LAKECHAT_ERR_ERASURE_IN_PROGRESS) before it reaches the log, so nothing slips
 * in behind the erasure here. Everything else passes through unchanged.
 */
export function refusingWritesDuringErasure(store: EventStore, assertWritable: (owner: string | null | undefined) => void): EventStore {
  return new Proxy(store, {
    get(target, property, receiver) {
      if (property === 'append') {
        return (streamId: string, events: readonly NewEvent[], options?: AppendOptions): Promise<AppendResult> => {
          assertWritable(options?.owner);
          return target.append(streamId, events, options);
        };
      }
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

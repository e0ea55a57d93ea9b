import { expect } from 'vitest';
import { isLakechatError } from '../../src/errors.ts';

/**
 * Given / When / Then for a pure decider: the history is folded with `evolve`, the command decided
 * on the result, and the outcome compared with the events or the error code expected.
 */
export function decider<State, Event, Command>(spec: { initial: State; evolve(state: State, event: Event): State; decide(state: State, command: Command): Event[] }) {
  return (...history: Event[]) => ({
    when: (command: Command) => {
      const state = history.reduce(spec.evolve, spec.initial);
      const outcome = (): Event[] => spec.decide(state, command);
      return {
        // biome-ignore lint/suspicious/noThenProperty: the given/when/then vocabulary of these tests; never awaited
        then(expected: Event[]): void {
          expect(outcome()).toEqual(expected);
        },
        thenFailsWith(code: string): void {
          let caught: unknown;
          try {
            outcome();
          } catch (error) {
            caught = error;
          }
          expect(isLakechatError(caught) ? caught.code : caught).toBe(code);
        },
      };
    },
  });
}

import { describe, expect, it } from 'vitest';
import { WrongExpectedVersionError } from '../../src/event-store/index.ts';
import type { StoredIdentity } from '../../src/event-store/postgres/append-sql.ts';
import { decideGroup, optimisticGroup } from '../../src/event-store/postgres/decide-group.ts';
import type { ExpectedVersion } from '../../src/event-store/types.ts';
import { prepareAppend } from '../../src/event-store/validate-append.ts';

let ids = 0;
const newId = () => `00000000-0000-4000-8000-${String(++ids).padStart(12, '0')}`;
const append = (streamId: string, count: number, expectedVersion: ExpectedVersion, eventIds?: string[]) =>
  prepareAppend(
    streamId,
    Array.from({ length: count }, (_, i) => ({ type: 'E', data: {}, ...(eventIds ? { eventId: eventIds[i] } : {}) })),
    { expectedVersion },
    newId,
  );

describe('deciding a group of appends', () => {
  it('checks each append against the version the appends before it in the group leave', () => {
    // Given a stream at version 2
    const state = { stored: new Map<string, StoredIdentity>(), versions: new Map([['s', 2]]) };
    // When four appends to it are decided together
    const decisions = decideGroup([append('s', 2, 2), append('s', 1, 2), append('s', 1, 4), append('s', 1, 'no_stream')], state);
    // Then the first and third are written at 3-4 and 5, the stale ones refused with the real version
    expect(decisions.map((d) => d.kind)).toEqual(['insert', 'failed', 'insert', 'failed']);
    expect(decisions[0]).toEqual({ kind: 'insert', firstVersion: 3 });
    expect(decisions[2]).toEqual({ kind: 'insert', firstVersion: 5 });
    expect((decisions[1] as { error: unknown }).error).toBeInstanceOf(WrongExpectedVersionError);
    expect((decisions[1] as { error: unknown }).error).toMatchObject({ expected: 2, actual: 4 });
    expect((decisions[3] as { error: unknown }).error).toMatchObject({ expected: 'no_stream', actual: 5 });
  });

  it('answers a retried append with its stored result, whatever the expected version says', () => {
    // Given an append already stored at positions 7 and 8
    const eventIds = [newId(), newId()];
    const stored = new Map<string, StoredIdentity>(eventIds.map((eventId, i) => [eventId, { eventId, streamId: 's', version: i + 1, position: 7 + i, cursor: `9-${7 + i}`, type: 'E' }]));
    // When the same append arrives again with its original expected version
    const [decision] = decideGroup([append('s', 2, 'no_stream', eventIds)], { stored, versions: new Map([['s', 5]]) });
    // Then it is done, with the original positions
    expect(decision).toMatchObject({ kind: 'done', result: { duplicate: true, nextExpectedVersion: 2, cursor: '9-8' } });
  });

  it('numbers an optimistic group relative to each stream, one condition per append', () => {
    // When two streams are appended to together
    const { checks, columns } = optimisticGroup([append('a', 2, 'any'), append('b', 1, 3), append('a', 1, 'stream_exists'), append('b', 1, 2 ** 40)]);
    // Then each append is checked at its offset in its stream, and rows carry versions relative to the current one
    expect(checks).toEqual([
      { streamId: 'a', offset: 0, kind: 'any', expected: 0 },
      { streamId: 'b', offset: 0, kind: 'exact', expected: 3 },
      { streamId: 'a', offset: 2, kind: 'stream_exists', expected: 0 },
      { streamId: 'b', offset: 1, kind: 'exact', expected: 2_147_483_647 },
    ]);
    expect(columns.streamIds).toEqual(['a', 'a', 'b', 'a', 'b']);
    expect(columns.versions).toEqual([1, 2, 1, 3, 2]);
  });
});

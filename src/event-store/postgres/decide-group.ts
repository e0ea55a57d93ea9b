import { encodeCursor } from '../cursor.ts';
import { checkExpectedVersion } from '../errors.ts';
import { findDuplicateAppend } from '../idempotency.ts';
import type { AppendResult } from '../types.ts';
import type { PreparedAppend } from '../validate-append.ts';
import { type AppendState, emptyInsertColumns, type InsertColumns, type InsertedRow, type VersionCheck } from './append-sql.ts';
import { encodeEventJson } from './json-text.ts';

export type Decision = { kind: 'insert'; firstVersion: number } | { kind: 'done'; result: AppendResult } | { kind: 'failed'; error: unknown };

/**
 * Decides a group of appends in arrival order, exactly as if they ran one after another: each is
 * checked against the version the stream has after the appends before it in the group. The group
 * never holds two appends sharing an event id (the committer keeps such a retry for the next group),
 * so idempotency is decided against stored events alone.
 */
export function decideGroup(appends: readonly PreparedAppend[], state: AppendState): Decision[] {
  const versions = new Map(state.versions);
  return appends.map((prepared): Decision => {
    try {
      const duplicate = findDuplicateAppend(prepared, (eventId) => state.stored.get(eventId));
      if (duplicate !== null) return { kind: 'done', result: duplicate };
      const current = versions.get(prepared.streamId) ?? 0;
      checkExpectedVersion(prepared.streamId, prepared.expectedVersion, current);
      versions.set(prepared.streamId, current + prepared.events.length);
      return { kind: 'insert', firstVersion: current + 1 };
    } catch (error) {
      return { kind: 'failed', error };
    }
  });
}

/** The rows of every append decided 'insert', in group order. */
export function insertColumnsFor(appends: readonly PreparedAppend[], decisions: readonly Decision[]): InsertColumns {
  const columns = emptyInsertColumns();
  appends.forEach((prepared, index) => {
    const decision = decisions[index]!;
    if (decision.kind !== 'insert') return;
    prepared.events.forEach((event, offset) => {
      const json = encodeEventJson(event.dataJson, event.metadataJson);
      columns.streamIds.push(prepared.streamId);
      columns.versions.push(decision.firstVersion + offset);
      columns.eventIds.push(event.eventId);
      columns.types.push(event.type);
      columns.schemaVersions.push(event.schemaVersion);
      columns.data.push(json.data);
      columns.metadata.push(json.metadata);
      columns.owners.push(prepared.owner);
      columns.escaped.push(json.escaped);
    });
  });
  return columns;
}

/**
 * The optimistic form of a group: every append's condition, and its rows numbered relative to the
 * stream's current version (which only the database knows), as if every append succeeds.
 */
export function optimisticGroup(appends: readonly PreparedAppend[]): { checks: VersionCheck[]; columns: InsertColumns } {
  const offsets = new Map<string, number>();
  const checks: VersionCheck[] = [];
  const decisions: Decision[] = appends.map((prepared) => {
    const offset = offsets.get(prepared.streamId) ?? 0;
    offsets.set(prepared.streamId, offset + prepared.events.length);
    const expected = prepared.expectedVersion;
    checks.push({
      streamId: prepared.streamId,
      offset,
      kind: typeof expected === 'number' ? 'exact' : expected,
      // stream_version is an int4: a larger expected version can never match, and must not overflow.
      expected: typeof expected === 'number' ? Math.min(expected, 2_147_483_647) : 0,
    });
    return { kind: 'insert', firstVersion: offset + 1 };
  });
  return { checks, columns: insertColumnsFor(appends, decisions) };
}

export function appendResult(prepared: PreparedAppend, firstVersion: number, inserted: ReadonlyMap<string, InsertedRow>): AppendResult {
  const events = prepared.events.map((event, offset) => {
    const row = inserted.get(event.eventId);
    if (row === undefined) throw new Error(`the insert returned no row for event ${event.eventId}`);
    return {
      eventId: event.eventId,
      position: row.position,
      version: firstVersion + offset,
      cursor: encodeCursor({ tx: row.tx, position: BigInt(row.position) }),
      ...(row.recordedAt === undefined ? {} : { recordedAt: row.recordedAt }),
    };
  });
  const last = events[events.length - 1]!;
  return { streamId: prepared.streamId, nextExpectedVersion: last.version, events, cursor: last.cursor, duplicate: false };
}

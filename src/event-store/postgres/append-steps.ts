import { type FragmentSqlToken, type IdentifierSqlToken, sql } from 'slonik';

/** A new event as a step sees it before the statement: what its writer gave, nothing the database assigns. */
export interface AppendStepEvent {
  eventId: string;
  streamId: string;
  owner: string | null;
  type: string;
  schemaVersion: number;
  data: Record<string, unknown>;
}

/**
 * Work the append statement does besides inserting the events, in the same statement: a read
 * model's rows written with the events that change them, so they commit (or roll back) together.
 * The store knows no read model; the projection runner's room makes the steps (src/projection-runner/
 * in-append.ts). A step is only ever part of the optimistic statements; the exact and one-by-one paths
 * carry none, and the runner applies what they wrote.
 */
export interface AppendStep {
  /** The read model's name: what the marks say it applied. */
  readonly name: string;
  /**
   * Data-modifying statements for the events it takes among `events` (none: it takes none of them).
   * Each reads the rows the statement inserts from `appended` (columns: event_id, stream_id,
   * stream_version, event_type, data, owner, recorded_at (to the millisecond, as readers see it),
   * position, tx_id, cursor (named as the store's readers name it)) and RETURNs `cursor` and
   * `tableoid` of every event it applied: only those, and only when the read model's rows before
   * them were already applied. What it leaves, the runner applies.
   */
  statements(events: readonly AppendStepEvent[], appended: IdentifierSqlToken): FragmentSqlToken[];
}

/** Event id → the steps that applied it → the oid of the table each wrote. */
export type AppliedMarks = ReadonlyMap<string, ReadonlyMap<string, number>>;

export interface AppendSteps {
  readonly steps: readonly AppendStep[];
  /** After the commit, before the append is answered or announced to any reader: what each step applied. */
  applied(marks: AppliedMarks): void;
}

/** The steps of one statement: the CTEs to add after `inserted`, and what the final select returns of them. */
export interface StepsInStatement {
  readonly ctes: FragmentSqlToken;
  /** The names of the steps in the statement, in the order of `applied`'s entries. */
  readonly names: readonly string[];
  /** Per row: an array with, for each step, the oid of the table it wrote for the row's event, or null. */
  readonly applied: FragmentSqlToken;
}

export const appendedRelation = sql.identifier(['appended']);

/**
 * The steps that take some of these events, as the CTEs of the append statement (after its CTE
 * `inserted`), and the expression the final select returns: per step, the oid of the table it wrote
 * for this row's event, or null. Undefined when no step takes any of them.
 */
export function stepsInStatement(steps: AppendSteps | undefined, events: readonly AppendStepEvent[], storeSuffix: string): StepsInStatement | undefined {
  if (steps === undefined || events.length === 0) return undefined;
  const ctes: FragmentSqlToken[] = [];
  const names: string[] = [];
  const perStep: FragmentSqlToken[] = [];
  for (const step of steps.steps) {
    let statements: FragmentSqlToken[];
    try {
      statements = step.statements(events, appendedRelation);
    } catch {
      continue; // a step that cannot say its statement leaves the events to the runner
    }
    if (statements.length === 0) continue;
    const cteNames = statements.map((statement) => {
      const name = sql.identifier([`step_${ctes.length}`]);
      ctes.push(sql.fragment`${name} AS (${statement})`);
      return name;
    });
    names.push(step.name);
    const found = cteNames.map((name) => sql.fragment`(SELECT ${name}.tableoid::text FROM ${name} WHERE ${name}.cursor = appended.cursor LIMIT 1)`);
    perStep.push(found.length === 1 ? found[0]! : sql.fragment`coalesce(${sql.join(found, sql.fragment`, `)})`);
  }
  if (names.length === 0) return undefined;
  return {
    ctes: sql.fragment`appended AS (
      SELECT event_id, stream_id, stream_version, event_type, data, owner, date_trunc('milliseconds', recorded_at) AS recorded_at,
        position, tx_id, tx_id::text || '-' || position::text || ${storeSuffix}::text AS cursor
      FROM inserted
    ), ${sql.join(ctes, sql.fragment`, `)}`,
    names,
    applied: sql.fragment`ARRAY[${sql.join(perStep, sql.fragment`, `)}]::text[]`,
  };
}

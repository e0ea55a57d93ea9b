import type { IdentifierSqlToken } from 'slonik';
import type { AppendStep, AppendStepEvent, AppendSteps, AppliedMarks, RecordedEvent } from '../event-store/index.ts';
import { type AnyReadModel, handles, type NewlyAppended } from './read-model.ts';
import { liveTables, tableNames } from './tables.ts';

type Step = (tables: ReturnType<typeof tableNames>, items: readonly NewlyAppended<unknown>[], appended: IdentifierSqlToken) => ReturnType<AppendStep['statements']>[number];

/** Marks are forgotten once the runner passes their events; past this many (a runner far behind) the oldest go first. */
const rememberedMarks = 100_000;

/**
 * What the appends of this instance applied to the live read models in their own statements: per
 * event, the read models, and the table each wrote (a rebuild's swap puts another table in its place,
 * and then the mark no longer holds). The runner skips marked events for those read models, and a write
 * whose events are all marked for every read model that handles them answers without waiting for it.
 * Other instances' runners do not see these marks: they apply the events again, which changes nothing
 * (folds are idempotent: versions and keys guard them).
 */
export class AppliedInAppend {
  private readonly marks = new Map<string, ReadonlyMap<string, number>>();

  record(marks: AppliedMarks): void {
    for (const [eventId, applied] of marks) this.marks.set(eventId, applied);
    for (const oldest of this.marks.keys()) {
      if (this.marks.size <= rememberedMarks) break;
      this.marks.delete(oldest);
    }
  }

  /** The oid of the table the append wrote for this event and read model; undefined when it did not apply it. */
  tableOf(eventId: string, readModel: string): number | undefined {
    return this.marks.get(eventId)?.get(readModel);
  }

  /** True when every read model of `models` that handles each event applied it in its append. */
  covers(events: readonly { eventId: string; type: string }[], models: readonly AnyReadModel[]): boolean {
    if (events.length === 0) return false;
    return events.every((event) => {
      const applied = this.marks.get(event.eventId);
      return applied !== undefined && models.every((model) => !handles(model, event.type) || applied.has(model.name));
    });
  }

  forget(events: readonly RecordedEvent[]): void {
    if (this.marks.size === 0) return;
    for (const event of events) this.marks.delete(event.eventId);
  }

  get size(): number {
    return this.marks.size;
  }
}

/** The event as the read model's parser reads a stored one (the database's part is not known yet). */
function asStored(event: AppendStepEvent): RecordedEvent {
  return { ...event, position: 0, cursor: '', version: 0, metadata: {}, recordedAt: new Date(0) };
}

/** The items of `events` the read model takes and parses, by type, for its steps. */
function itemsByType(model: AnyReadModel, steps: Record<string, Step | undefined>, events: readonly AppendStepEvent[]): Map<string, NewlyAppended<unknown>[]> {
  const byType = new Map<string, NewlyAppended<unknown>[]>();
  for (const event of events) {
    if (steps[event.type] === undefined) continue;
    let parsed: { type: string; data: unknown } | null;
    try {
      parsed = model.parse(asStored(event));
    } catch {
      continue; // data failing the read model's schema: the runner parks it, as for any writer
    }
    if (parsed === null) continue;
    let items = byType.get(event.type);
    if (items === undefined) byType.set(event.type, (items = []));
    items.push({ data: parsed.data, eventId: event.eventId, streamId: event.streamId, owner: event.owner });
  }
  return byType;
}

/** The append steps of every read model that declares some, writing the live tables, reporting to `marks`. */
export function inAppendSteps(models: readonly AnyReadModel[], marks: AppliedInAppend): AppendSteps {
  const tables = tableNames(liveTables);
  const steps: AppendStep[] = [];
  for (const model of models) {
    const declared = model.inAppend as Record<string, Step | undefined> | undefined;
    if (declared === undefined) continue;
    steps.push({
      name: model.name,
      statements: (events, appended) => [...itemsByType(model, declared, events)].map(([type, items]) => declared[type]!(tables, items, appended)),
    });
  }
  return { steps, applied: (applied) => marks.record(applied) };
}

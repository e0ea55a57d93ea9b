import type { DatabasePool } from 'slonik';
import type { EventStore } from '../event-store/index.ts';
import { type OpenProjectionsOptions, openProjections, type Projections } from '../projection-runner/index.ts';

/** An object that forwards every property to whatever `current()` returns at the time of the call. */
function following<T extends object>(current: () => T): T {
  return new Proxy({} as T, {
    get(_unused, key) {
      const target = current();
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/**
 * The read models of an instance on the memory fallback: in memory first, PostgreSQL's once the
 * instance switches. The services, /health and /metrics hold `projections`, which always answers
 * with the current ones, so nothing of the app is rebuilt at the switch.
 */
export class ProjectionsSwitch {
  private current: Projections | undefined;
  private settings: Omit<OpenProjectionsOptions, 'store' | 'pool'> = {};

  readonly projections: Projections = {
    runner: following(() => this.active().runner),
    readModels: following(() => this.active().readModels),
    // An erasure on the fallback deletes the user's rows from the memory read models (after the
    // switch there are none here: the erasure deletes PostgreSQL's rows itself).
    eraseRows: (selection) => this.active().eraseRows?.(selection) ?? 0,
  };

  constructor(private readonly memory: EventStore) {}

  /** Opens the in-memory read models over the memory log (the app's own `store` is the switchable one). */
  async open(options: OpenProjectionsOptions): Promise<Projections> {
    const { store: _switchable, pool: _none, ...settings } = options;
    this.settings = settings;
    this.current = await openProjections({ ...settings, store: this.memory, pool: null });
    return this.projections;
  }

  /** Opens PostgreSQL's read models (they start from their own checkpoints); `use` them, or stop them. */
  openOn(store: EventStore, pool: DatabasePool): Promise<Projections> {
    return openProjections({ ...this.settings, store, pool });
  }

  /**
   * From now on `projections` answers with `next`. The memory runner goes on a while, so writes that
   * are waiting on it (appended just before the switch) are answered, then stops.
   */
  use(next: Projections, retireAfterMs: number): void {
    const previous = this.current;
    this.current = next;
    if (previous !== undefined) setTimeout(() => void previous.runner.stop(), retireAfterMs).unref();
  }

  private active(): Projections {
    if (this.current === undefined) throw new Error('the projections are not open yet');
    return this.current;
  }
}

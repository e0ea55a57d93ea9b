/**
 * The shape of one benchmark scenario. `scripts/bench.ts` runs the scenarios asked for
 * (`npm run bench -- --only a,b`), prints one table of every row, then one JSON line merging every
 * scenario's `figures` (stable keys, named by the issues: tools read them).
 */
export interface BenchContext {
  /** A superuser URL of a PostgreSQL where the scenario may create its own databases. */
  adminDatabaseUrl: string;
  /** Creates a fresh database for the scenario and returns its URL; dropped when the run ends. */
  createDatabase(prefix: string): Promise<string>;
}

export interface BenchRow {
  scenario: string;
  metric: string;
  value: number;
  unit: string;
  /** The baseline measured in the same run, when the scenario has one. */
  baseline?: number;
  ratio?: number;
  /** What the issue asks for, in words ("ratio >= 0.6"), printed beside the figure. */
  target?: string;
}

export interface BenchResult {
  rows: BenchRow[];
  figures: Record<string, number>;
}

export interface BenchScenario {
  name: string;
  run(context: BenchContext): Promise<BenchResult>;
}

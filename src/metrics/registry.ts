/**
 * A small Prometheus registry: counters and histograms kept in memory, gauges read when scraped, and
 * the text exposition format (version 0.0.4). Small enough that a dependency (prom-client, with its
 * default process collectors and cluster aggregation) would be mostly unused weight.
 */

export type Labels = Readonly<Record<string, string>>;

interface Metric {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  /** Sample lines, without HELP and TYPE. */
  samples(): Promise<string[]> | string[];
}

/** Label values escaped as the text format requires: backslash, double quote, newline. */
function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labelText(labels: Labels): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return '';
  return `{${entries.map(([key, value]) => `${key}="${escapeLabel(value)}"`).join(',')}}`;
}

function numberText(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

const validName = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

export class Counter implements Metric {
  readonly type = 'counter';
  private readonly values = new Map<string, { labels: Labels; value: number }>();

  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  inc(labels: Labels = {}, by = 1): void {
    const key = labelText(labels);
    const entry = this.values.get(key);
    if (entry === undefined) this.values.set(key, { labels, value: by });
    else entry.value += by;
  }

  /** The current value for these labels (0 if never incremented). */
  value(labels: Labels = {}): number {
    return this.values.get(labelText(labels))?.value ?? 0;
  }

  samples(): string[] {
    if (this.values.size === 0) return [`${this.name} 0`];
    return [...this.values.values()].map(({ labels, value }) => `${this.name}${labelText(labels)} ${numberText(value)}`);
  }
}

export interface GaugeSample {
  labels?: Labels;
  value: number;
}

/**
 * A value read from its source at scrape time, so it can never drift from what it measures: a gauge,
 * or a counter some other module already keeps (the token provider's fetches, the hub's frames).
 */
export class Observed implements Metric {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'gauge' | 'counter',
    private readonly read: () => Promise<GaugeSample[]> | GaugeSample[],
  ) {}

  async samples(): Promise<string[]> {
    const samples = await this.read();
    return samples.map(({ labels, value }) => `${this.name}${labelText(labels ?? {})} ${numberText(value)}`);
  }
}

export class Histogram implements Metric {
  readonly type = 'histogram';
  private readonly counts: number[];
  private sum = 0;
  private count = 0;

  constructor(
    readonly name: string,
    readonly help: string,
    /** Upper bounds, increasing; +Inf is implied. */
    private readonly buckets: readonly number[],
  ) {
    this.counts = buckets.map(() => 0);
  }

  observe(value: number): void {
    this.sum += value;
    this.count += 1;
    for (let index = 0; index < this.buckets.length; index += 1) {
      if (value <= this.buckets[index]!) this.counts[index]! += 1;
    }
  }

  samples(): string[] {
    const lines = this.buckets.map((bound, index) => `${this.name}_bucket{le="${numberText(bound)}"} ${this.counts[index]}`);
    lines.push(`${this.name}_bucket{le="+Inf"} ${this.count}`, `${this.name}_sum ${numberText(this.sum)}`, `${this.name}_count ${this.count}`);
    return lines;
  }
}

export class MetricsRegistry {
  private readonly metrics: Metric[] = [];

  register<M extends Metric>(metric: M): M {
    if (!validName.test(metric.name)) throw new Error(`invalid metric name ${metric.name}`);
    if (this.metrics.some((existing) => existing.name === metric.name)) throw new Error(`metric ${metric.name} registered twice`);
    this.metrics.push(metric);
    return metric;
  }

  counter(name: string, help: string): Counter {
    return this.register(new Counter(name, help));
  }

  gauge(name: string, help: string, read: () => Promise<GaugeSample[]> | GaugeSample[]): Observed {
    return this.register(new Observed(name, help, 'gauge', read));
  }

  observedCounter(name: string, help: string, read: () => Promise<GaugeSample[]> | GaugeSample[]): Observed {
    return this.register(new Observed(name, help, 'counter', read));
  }

  histogram(name: string, help: string, buckets: readonly number[]): Histogram {
    return this.register(new Histogram(name, help, buckets));
  }

  /** The text exposition format; a gauge whose source throws is left out rather than failing the scrape. */
  async render(): Promise<string> {
    const blocks = await Promise.all(
      this.metrics.map(async (metric) => {
        let samples: string[];
        try {
          samples = await metric.samples();
        } catch {
          return '';
        }
        const help = metric.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
        return [`# HELP ${metric.name} ${help}`, `# TYPE ${metric.name} ${metric.type}`, ...samples].join('\n') + '\n';
      }),
    );
    return blocks.join('');
  }
}

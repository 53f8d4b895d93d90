import { Metric, Registry } from 'prom-client';

type Labels<L extends string> = Readonly<Record<L, string>>;

/** A line of the exposition as prom-client's registry formats it: `labels` first (a bucket's `le`), then `sharedLabels`. */
interface ValueLine {
  readonly value: number;
  readonly labels: Readonly<Record<string, string | number>>;
  readonly sharedLabels?: Labels<string>;
  readonly metricName?: string;
}

/** What prom-client's registry reads of a metric (`get()` for JSON, `getForPromString()` for the text). */
interface MetricData {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'histogram';
  readonly aggregator: 'sum';
  readonly values: ValueLine[];
}

/** One label set's count: the caller keeps it and counts on it, with no label set looked up per call. */
export class CountSeries<L extends string = string> {
  public value = 0;
  constructor(public readonly labels: Labels<L>) {}

  public inc(by = 1): void {
    this.value += by;
  }
}

/** One label set's observations: counts per bucket (not cumulative), their sum and count. */
export class HistogramSeries<L extends string = string> {
  public readonly counts: number[];
  public sum = 0;
  public count = 0;
  constructor(public readonly labels: Labels<L>, private readonly bounds: readonly number[]) {
    this.counts = bounds.map(() => 0);
  }

  public observe(value: number): void {
    this.sum += value;
    this.count++;
    const bounds = this.bounds;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= bounds[i]) {
        this.counts[i]++;
        return;
      }
    }
  }
}

interface TallyOptions<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
  readonly registers: Registry[];
}

/**
 * A metric of prom-client's registry whose series are objects the callers hold: a label set is
 * resolved once (per route, method and status; per operation and target), then every count is a
 * field increment. prom-client's `inc` and `observe` validate and hash the label set on every call,
 * its `labels()` children too, which was a measurable part of a request's CPU (issue 22). The
 * exposition is prom-client's own (the registry formats what {@link get} returns), so the text
 * scraped is the same as before.
 */
abstract class Tally<L extends string, S extends { readonly labels: Labels<L> }> {
  public readonly name: string;
  public readonly help: string;
  public readonly aggregator = 'sum' as const;
  public abstract readonly type: 'counter' | 'histogram';
  private readonly series = new Map<string, S>();
  private readonly labelNames: readonly L[];

  constructor(options: TallyOptions<L>) {
    this.name = options.name;
    this.help = options.help;
    this.labelNames = options.labelNames;
    // The registry reads a metric through the members above and below, whatever its class.
    for (const registry of options.registers) registry.registerMetric(this as unknown as Metric);
  }

  /** The series of `labels`, made on first use; keep it and count on it. */
  public labels(labels: Labels<L>): S {
    const key = this.labelNames.map(name => labels[name]).join('\u0000');
    let series = this.series.get(key);
    if (!series) {
      for (const name of Object.keys(labels)) {
        if (!this.labelNames.includes(name as L)) throw new Error(`metric ${this.name}: label '${name}' is not one of ${this.labelNames.join(', ')}`);
      }
      this.series.set(key, series = this.create(Object.freeze({ ...labels })));
    }
    return series;
  }

  /** Forgets every series: the series objects callers hold no longer count (prom-client's reset). */
  public reset(): void {
    this.series.clear();
  }

  /** The lines of the text exposition, a series' labels kept apart as prom-client's own histogram does. */
  public getForPromString(): Promise<MetricData> {
    const values = [...this.series.values()].flatMap(series => this.values(series));
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values });
  }

  /** The values with each line's labels merged (prom-client's `get()`, which its JSON output reads). */
  public async get(): Promise<MetricData> {
    const data = await this.getForPromString();
    return { ...data, values: data.values.map(({ labels, sharedLabels, ...line }) => ({ ...line, labels: { ...labels, ...sharedLabels } })) };
  }

  protected abstract create(labels: Labels<L>): S;
  protected abstract values(series: S): ValueLine[];
}

/** A counter with held series ({@link Tally}). */
export class TallyCounter<L extends string> extends Tally<L, CountSeries<L>> {
  public readonly type = 'counter';

  protected create(labels: Labels<L>): CountSeries<L> {
    return new CountSeries(labels);
  }

  protected values(series: CountSeries<L>): ValueLine[] {
    return [{ labels: series.labels, value: series.value }];
  }
}

/** A histogram with held series ({@link Tally}); `buckets` are the upper bounds, ascending, +Inf added. */
export class TallyHistogram<L extends string> extends Tally<L, HistogramSeries<L>> {
  public readonly type = 'histogram';
  private readonly buckets: readonly number[];

  constructor(options: TallyOptions<L> & { readonly buckets: readonly number[] }) {
    super(options);
    this.buckets = [...options.buckets].sort((a, b) => a - b);
  }

  protected create(labels: Labels<L>): HistogramSeries<L> {
    return new HistogramSeries(labels, this.buckets);
  }

  protected values(series: HistogramSeries<L>): ValueLine[] {
    // As prom-client lays a histogram out: the buckets cumulative, `le` first, then the series' labels.
    let cumulative = 0;
    const bucket = `${this.name}_bucket`;
    return [
      ...this.buckets.map((le, i) => ({ labels: { le }, sharedLabels: series.labels, value: cumulative += series.counts[i], metricName: bucket })),
      { labels: { le: '+Inf' }, sharedLabels: series.labels, value: series.count, metricName: bucket },
      { labels: {}, sharedLabels: series.labels, value: series.sum, metricName: `${this.name}_sum` },
      { labels: {}, sharedLabels: series.labels, value: series.count, metricName: `${this.name}_count` },
    ];
  }
}

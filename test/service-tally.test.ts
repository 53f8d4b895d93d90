import { Counter, Histogram, Registry } from 'prom-client';
import { TallyCounter, TallyHistogram } from '../service/src/tally';

const labelNames = ['method', 'route', 'status'] as const;
const buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

test('a tally counter and histogram expose the same text as prom-client\'s for the same counts, labels escaped alike', async () => {
  // GIVEN prom-client's metrics on one registry and tallies of the same names on another
  const ours = new Registry();
  const theirs = new Registry();
  const counter = new Counter({ name: 'x_total', help: 'requests', labelNames, registers: [theirs] });
  const histogram = new Histogram({ name: 'x_seconds', help: 'durations', labelNames, buckets, registers: [theirs] });
  const tallyCounter = new TallyCounter({ name: 'x_total', help: 'requests', labelNames, registers: [ours] });
  const tallyHistogram = new TallyHistogram({ name: 'x_seconds', help: 'durations', labelNames, buckets, registers: [ours] });

  // WHEN both count the same requests, on held series for the tallies
  const get = { method: 'GET', route: '/a', status: '200' };
  const odd = { method: 'POST', route: '/b"\\\n', status: '500' };
  for (const [labels, seconds] of [[get, 0.003], [get, 0.3], [odd, 7], [get, 0.01], [odd, 0.05]] as const) {
    counter.inc(labels);
    histogram.observe(labels, seconds);
    tallyCounter.labels(labels).inc();
    tallyHistogram.labels(labels).observe(seconds);
  }

  // THEN the scraped texts are the same, and the JSON form carries each line's labels merged
  expect(await ours.metrics()).toBe(await theirs.metrics());
  expect(await ours.metrics()).toContain('x_seconds_bucket{le="0.01",method="GET",route="/a",status="200"} 2');
  const json = await ours.getMetricsAsJSON();
  expect(json[1].values[0]).toEqual({ value: 1, metricName: 'x_seconds_bucket', labels: { le: 0.005, ...get } });
});

test('the series of a label set is the same object on every call, and reset forgets them all', async () => {
  const registry = new Registry();
  const counter = new TallyCounter({ name: 'reads_total', help: 'reads', labelNames: ['target'], registers: [registry] });
  const series = counter.labels({ target: 'replica' });
  expect(counter.labels({ target: 'replica' })).toBe(series);
  series.inc();
  series.inc(2);
  expect(await registry.metrics()).toContain('reads_total{target="replica"} 3');
  registry.resetMetrics();
  expect(await registry.metrics()).not.toContain('reads_total{');
});

test('throws error, when a label is not one of the metric\'s', () => {
  const counter = new TallyCounter({ name: 'reads_total', help: 'reads', labelNames: ['target'], registers: [] });
  expect(() => counter.labels({ target: 'replica', pod: 'a' } as never)).toThrow('metric reads_total: label \'pod\' is not one of target');
});

import { parse } from 'yaml';
import { adapterRateRule, AdapterRule, RATE_METRICS_QUERY, renderAdapterRules } from '../lib/api/metrics-adapter-rules';
import { ProcessGroup } from './support/processes';
import { checkRules, testRules } from './support/promtool';

const group = new ProcessGroup();
afterAll(() => group.cleanup());

const requestsPerSecond = { name: 'requests_per_second', counter: 'http_requests_total' };

/** The query prometheus-adapter sends for the pods `pods` of namespace `namespace`, its templates filled as the adapter fills them. */
function adapterQuery(rule: AdapterRule, counter: string, namespace: string, pods: string[]): string {
  return rule.metricsQuery
    .replace('<<.Series>>', counter)
    .replace('<<.LabelMatchers>>', `namespace="${namespace}",pod=~"${pods.join('|')}"`)
    .replace('<<.GroupBy>>', 'pod');
}

test('the rules file has the adapter\'s shape: a rules list of seriesQuery, resources, name and metricsQuery', () => {
  const config = parse(renderAdapterRules([requestsPerSecond, { name: 'jobs_per_second', counter: 'jobs_processed_total' }]));
  expect(Object.keys(config)).toEqual(['rules']);
  expect(config.rules).toHaveLength(2);
  for (const rule of config.rules) {
    expect(Object.keys(rule).sort()).toEqual(['metricsQuery', 'name', 'resources', 'seriesQuery']);
    expect(rule.resources).toEqual({ overrides: { namespace: { resource: 'namespace' }, pod: { resource: 'pod' } } });
    expect(rule.metricsQuery).toBe(RATE_METRICS_QUERY);
    for (const template of ['<<.Series>>', '<<.LabelMatchers>>', '<<.GroupBy>>']) expect(rule.metricsQuery).toContain(template);
  }
  expect(config.rules[1]).toMatchObject({ seriesQuery: 'jobs_processed_total{namespace!="",pod!=""}', name: { as: 'jobs_per_second' } });
});

test('the rule renames exactly the counter it selects', () => {
  const rule = adapterRateRule(requestsPerSecond);
  expect(rule.seriesQuery).toBe('http_requests_total{namespace!="",pod!=""}');
  expect(rule.name.as).toBe('requests_per_second');
  const matches = new RegExp(rule.name.matches);
  expect(['http_requests_total', 'xhttp_requests_total', 'http_requests_total_created'].filter(n => matches.test(n))).toEqual(['http_requests_total']);
});

test('promtool parses the series query and the filled metrics query, and the query is each pod\'s requests per second', async () => {
  // GIVEN the two queries as recording rules
  const dir = group.tempDir();
  const rule = adapterRateRule(requestsPerSecond);
  await checkRules(dir, 'adapter.yml', [{
    name: 'adapter',
    rules: [
      { record: 'adapter_series', expr: rule.seriesQuery },
      { record: 'requests_per_second', expr: adapterQuery(rule, 'http_requests_total', 'shop', ['api-a', 'api-b']) },
    ],
  }]);
  // WHEN promtool evaluates them on two pods scraped every 15 s (1 and 5 requests a second), and one pod elsewhere
  const series = (labels: string, perScrape: number) => ({ series: `http_requests_total{${labels}}`, values: `0+${perScrape}x40` });
  const output = await testRules(dir, {
    rule_files: ['adapter.yml'],
    evaluation_interval: '15s',
    tests: [{
      interval: '15s',
      input_series: [
        series('namespace="shop",pod="api-a",status="200"', 15),
        series('namespace="shop",pod="api-b",status="200"', 60),
        series('namespace="shop",pod="api-b",status="500"', 15),
        series('namespace="other",pod="api-a",status="200"', 150),
      ],
      promql_expr_test: [{
        expr: 'requests_per_second', eval_time: '5m',
        exp_samples: [{ labels: 'requests_per_second{pod="api-a"}', value: 1 }, { labels: 'requests_per_second{pod="api-b"}', value: 5 }],
      }],
    }],
  });
  // THEN the rate is summed over status codes, per pod, in the HPA's namespace only
  expect(output).toContain('SUCCESS');
});

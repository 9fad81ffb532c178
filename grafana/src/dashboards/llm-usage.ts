import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { buildDashboard } from '../shared/layout.js';
import { prom, promTable, statPanel, tablePanel, timeSeries } from '../shared/panels.js';
import { ENV_SOURCE_MODEL as F, environmentVariable, modelVariable, sourceVariable } from '../shared/variables.js';

const requests = `gen_ai_client_requests_total{${F}}`;
const errors = `gen_ai_client_requests_total{${F}, status="error"}`;
const buckets = `gen_ai_client_operation_duration_seconds_bucket{${F}}`;

/** histogram_quantile over the operation duration buckets: `rate` over $__rate_interval, or `increase` over $__range. */
const quantile = (q: number, by: string, over: 'rate' | 'range' = 'rate') =>
  over === 'rate'
    ? `histogram_quantile(${q}, sum by (${by}) (rate(${buckets}[$__rate_interval])))`
    : `histogram_quantile(${q}, sum by (${by}) (increase(${buckets}[$__range])))`;

export function llmUsageDashboard(): dashboard.Dashboard {
  return buildDashboard({
    uid: 'vertigo-llm-usage',
    title: 'Vertigo Live / LLM usage',
    description: 'What the monitored LLM applications do: requests, latency, tokens, cost and errors per model and source (OpenTelemetry GenAI metrics).',
    tags: ['llm'],
    time: '24h',
    variables: [environmentVariable(), sourceVariable(), modelVariable()],
    sections: [
      {
        title: 'Summary',
        panels: [
          statPanel(
            { title: 'Requests', description: 'LLM requests per second (traces reaching a final status), last 5 minutes.', unit: 'reqps', width: 4, thresholds: [[null, 'blue']] },
            prom(`sum(gen_ai:requests:rate5m{${F}})`, 'requests'),
          ),
          statPanel(
            { title: 'Error ratio', description: 'Share of LLM requests that ended in error.', unit: 'percentunit', width: 4, decimals: 2, thresholds: [[null, 'green'], [0.02, 'orange'], [0.05, 'red']] },
            prom(`sum(rate(${errors}[$__rate_interval])) / sum(rate(${requests}[$__rate_interval]))`, 'error ratio'),
          ),
          statPanel(
            { title: 'Latency p95', description: 'p95 of the LLM operation duration across the selected models.', unit: 's', width: 4, thresholds: [[null, 'green'], [10, 'orange'], [30, 'red']] },
            prom(quantile(0.95, 'le'), 'p95'),
          ),
          statPanel(
            { title: 'Cost per hour', description: 'USD spent over the last hour (recording rule gen_ai:cost_usd:increase1h).', unit: 'currencyUSD', width: 4, decimals: 2, thresholds: [[null, 'blue']] },
            prom(`sum(gen_ai:cost_usd:increase1h{${F}})`, 'USD / h'),
          ),
          statPanel(
            { title: 'Cost in range', description: 'USD spent over the whole time range picked above.', unit: 'currencyUSD', width: 4, decimals: 2, thresholds: [[null, 'blue']], graph: false },
            prom(`sum(increase(gen_ai_client_cost_usd_total{${F}}[$__range]))`, 'USD').instant(),
          ),
          statPanel(
            { title: 'Tokens in range', description: 'Input and output tokens over the whole time range picked above.', unit: 'short', width: 4, thresholds: [[null, 'blue']], graph: false },
            prom(`sum(increase(gen_ai_client_token_usage_total{${F}}[$__range]))`, 'tokens').instant(),
          ),
        ],
      },
      {
        title: 'Requests',
        panels: [
          timeSeries(
            { title: 'Requests by model', description: 'LLM requests per second by model (recording rule gen_ai:requests:rate5m).', unit: 'reqps', min: 0, stack: true },
            prom(`sum by (model) (gen_ai:requests:rate5m{${F}})`, '{{model}}'),
          ),
          timeSeries(
            { title: 'Requests by source', description: 'LLM requests per second by webhook source.', unit: 'reqps', min: 0, stack: true },
            prom(`sum by (source) (gen_ai:requests:rate5m{${F}})`, '{{source}}'),
          ),
          timeSeries(
            { title: 'Requests by status', description: 'LLM requests per second by final status (success, error, cancelled).', unit: 'reqps', min: 0, stack: true },
            prom(`sum by (status) (gen_ai:requests:rate5m{${F}})`, '{{status}}'),
          ),
          timeSeries(
            { title: 'Error ratio by model', description: 'Share of each model\'s requests that ended in error.', unit: 'percentunit', min: 0, thresholds: [[null, 'green'], [0.02, 'orange'], [0.05, 'red']], thresholdLines: true },
            prom(`sum by (model) (rate(${errors}[$__rate_interval])) / sum by (model) (rate(${requests}[$__rate_interval]))`, '{{model}}'),
          ),
        ],
      },
      {
        title: 'Latency',
        panels: [
          timeSeries(
            { title: 'Latency percentiles', description: 'p50, p95 and p99 of the LLM operation duration across the selected models and sources (histogram buckets 10 ms to 82 s).', unit: 's', width: 8, min: 0 },
            prom(quantile(0.5, 'le'), 'p50'),
            prom(quantile(0.95, 'le'), 'p95'),
            prom(quantile(0.99, 'le'), 'p99'),
          ),
          timeSeries(
            { title: 'Latency p50 by model', description: 'Median LLM operation duration per model.', unit: 's', width: 8, min: 0 },
            prom(quantile(0.5, 'le, model'), '{{model}}'),
          ),
          timeSeries(
            { title: 'Latency p99 by model', description: 'p99 LLM operation duration per model: the slow tail users notice.', unit: 's', width: 8, min: 0, thresholds: [[null, 'green'], [30, 'red']], thresholdLines: true },
            prom(quantile(0.99, 'le, model'), '{{model}}'),
          ),
        ],
      },
      {
        title: 'Tokens and cost',
        panels: [
          timeSeries(
            { title: 'Tokens by type', description: 'Tokens per second, input and output (recording rule gen_ai:token_usage:rate5m).', unit: 'suffix: tok/s', min: 0, stack: true },
            prom(`sum by (token_type) (gen_ai:token_usage:rate5m{${F}})`, '{{token_type}}'),
          ),
          timeSeries(
            { title: 'Tokens by model', description: 'Tokens per second per model and token type.', unit: 'suffix: tok/s', min: 0, stack: true },
            prom(`sum by (model, token_type) (gen_ai:token_usage:rate5m{${F}})`, '{{model}} {{token_type}}'),
          ),
          timeSeries(
            { title: 'Cost per hour by model', description: 'USD spent over the trailing hour, per model (recording rule gen_ai:cost_usd:increase1h).', unit: 'currencyUSD', min: 0, stack: true, decimals: 2 },
            prom(`sum by (model) (gen_ai:cost_usd:increase1h{${F}})`, '{{model}}'),
          ),
          timeSeries(
            { title: 'Cost per hour by source', description: 'USD spent over the trailing hour, per webhook source.', unit: 'currencyUSD', min: 0, stack: true, decimals: 2 },
            prom(`sum by (source) (gen_ai:cost_usd:increase1h{${F}})`, '{{source}}'),
          ),
        ],
      },
      {
        title: 'Per model over the time range',
        panels: [
          tablePanel(
            {
              title: 'Models',
              description: 'One line per model over the whole time range: requests, error ratio, p95 latency, tokens and cost.',
              unit: 'short',
              height: 9,
              columns: { model: 'Model', 'Value #A': 'Requests', 'Value #B': 'Error ratio', 'Value #C': 'Latency p95', 'Value #D': 'Tokens', 'Value #E': 'Cost' },
              sortBy: 'Cost',
            },
            promTable(`sum by (model) (increase(${requests}[$__range]))`),
            promTable(`sum by (model) (increase(${errors}[$__range])) / sum by (model) (increase(${requests}[$__range]))`),
            promTable(quantile(0.95, 'le, model', 'range')),
            promTable(`sum by (model) (increase(gen_ai_client_token_usage_total{${F}}[$__range]))`),
            promTable(`sum by (model) (increase(gen_ai_client_cost_usd_total{${F}}[$__range]))`),
          )
            .overrideByName('Error ratio', [{ id: 'unit', value: 'percentunit' }, { id: 'decimals', value: 2 }])
            .overrideByName('Latency p95', [{ id: 'unit', value: 's' }])
            .overrideByName('Cost', [{ id: 'unit', value: 'currencyUSD' }, { id: 'decimals', value: 2 }]),
        ],
      },
    ],
  });
}

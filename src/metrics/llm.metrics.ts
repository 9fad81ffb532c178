import { Counter, Histogram, type Registry } from 'prom-client';
import type { WrittenTrace } from '../store/trace.repository.js';
import { LabelCap } from './label-cap.js';

/**
 * The LLM domain, named after the OpenTelemetry GenAI semantic conventions as Prometheus spells them
 * (`gen_ai.client.operation.duration` -> `gen_ai_client_operation_duration_seconds`). A trace is counted once,
 * when it first reaches a final status, so redeliveries and later updates do not count it again.
 */
export class LlmMetrics {
  private readonly models: LabelCap;
  readonly duration: Histogram<'source' | 'model' | 'status'>;
  readonly tokens: Counter<'source' | 'model' | 'token_type'>;
  readonly cost: Counter<'source' | 'model'>;
  readonly requests: Counter<'source' | 'model' | 'status'>;
  readonly errors: Counter<'source' | 'model'>;

  constructor(registry: Registry, maxModels: number) {
    this.models = new LabelCap(maxModels);
    this.duration = new Histogram({
      name: 'gen_ai_client_operation_duration_seconds',
      help: 'Duration of LLM operations as reported by their traces, by source, model and status.',
      labelNames: ['source', 'model', 'status'],
      // The GenAI conventions' advised buckets.
      buckets: [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92],
      registers: [registry],
    });
    this.tokens = new Counter({
      name: 'gen_ai_client_token_usage_total',
      help: 'Tokens used by LLM operations, by source, model and token type (input or output).',
      labelNames: ['source', 'model', 'token_type'],
      registers: [registry],
    });
    this.cost = new Counter({
      name: 'gen_ai_client_cost_usd_total',
      help: 'Cost of LLM operations in US dollars as reported by their traces, by source and model.',
      labelNames: ['source', 'model'],
      registers: [registry],
    });
    this.requests = new Counter({
      name: 'gen_ai_client_requests_total',
      help: 'Completed LLM operations, by source, model and status (success, error, cancelled).',
      labelNames: ['source', 'model', 'status'],
      registers: [registry],
    });
    this.errors = new Counter({
      name: 'gen_ai_client_errors_total',
      help: 'LLM operations that ended in error, by source and model.',
      labelNames: ['source', 'model'],
      registers: [registry],
    });
  }

  recordCompleted(traces: readonly WrittenTrace[]): void {
    for (const t of traces) {
      const model = this.models.value(t.model);
      const status = t.status ?? 'unknown';
      this.requests.inc({ source: t.source, model, status });
      if (status === 'error') this.errors.inc({ source: t.source, model });
      if (t.latency_ms != null) this.duration.observe({ source: t.source, model, status }, t.latency_ms / 1000);
      if (t.input_tokens) this.tokens.inc({ source: t.source, model, token_type: 'input' }, t.input_tokens);
      if (t.output_tokens) this.tokens.inc({ source: t.source, model, token_type: 'output' }, t.output_tokens);
      if (t.cost_usd) this.cost.inc({ source: t.source, model }, t.cost_usd);
    }
  }
}

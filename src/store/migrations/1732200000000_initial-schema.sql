-- Up Migration

-- One row per LLM call (trace), whichever way it arrived. `updated_at` is the version: the sender's own time
-- of the newest event applied, with `last_event_id` breaking ties, so that applying events in any order
-- ends in the same row.
CREATE TABLE live_traces (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  source         text NOT NULL,
  external_id    text NOT NULL,
  name           text,
  model          text,
  provider       text,
  status         text NOT NULL DEFAULT 'running'
                 CHECK (status IN ('success', 'error', 'running', 'cancelled')),
  latency_ms     double precision CHECK (latency_ms >= 0),
  input_tokens   bigint CHECK (input_tokens >= 0),
  output_tokens  bigint CHECK (output_tokens >= 0),
  cost_usd       numeric(20, 10) CHECK (cost_usd >= 0),
  user_id        text,
  session_id     text,
  started_at     timestamptz,
  ended_at       timestamptz,
  metadata       jsonb NOT NULL DEFAULT '{}'::jsonb,
  received_at    timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL,
  last_event_id  text NOT NULL,
  CONSTRAINT live_traces_source_external_id_key UNIQUE (source, external_id)
);
CREATE INDEX live_traces_received_at_idx ON live_traces (received_at DESC);
CREATE INDEX live_traces_started_at_idx ON live_traces (started_at DESC);
CREATE INDEX live_traces_source_received_at_idx ON live_traces (source, received_at DESC);
CREATE INDEX live_traces_model_received_at_idx ON live_traces (model, received_at DESC);
CREATE INDEX live_traces_status_received_at_idx ON live_traces (status, received_at DESC);
CREATE INDEX live_traces_session_id_idx ON live_traces (session_id) WHERE session_id IS NOT NULL;

-- A deleted trace leaves a tombstone, so that an older update arriving after the delete cannot bring it back.
CREATE TABLE live_trace_tombstones (
  source         text NOT NULL,
  external_id    text NOT NULL,
  deleted_at     timestamptz NOT NULL,
  last_event_id  text NOT NULL,
  PRIMARY KEY (source, external_id)
);

-- Every accepted webhook event. `delivery_id` is the sender's id for the event (unique per source): a
-- redelivery bumps `attempts` on the existing row and is not applied again.
CREATE TABLE webhook_events (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  source        text NOT NULL,
  delivery_id   text NOT NULL,
  event_type    text NOT NULL,
  payload       jsonb NOT NULL,
  status        text NOT NULL DEFAULT 'received'
                CHECK (status IN ('received', 'processed', 'duplicate', 'ignored', 'failed')),
  error         text,
  attempts      integer NOT NULL DEFAULT 1,
  event_at      timestamptz,
  received_at   timestamptz NOT NULL,
  processed_at  timestamptz,
  CONSTRAINT webhook_events_source_delivery_id_key UNIQUE (source, delivery_id)
);
CREATE INDEX webhook_events_received_at_idx ON webhook_events (received_at DESC);
CREATE INDEX webhook_events_source_received_at_idx ON webhook_events (source, received_at DESC);
CREATE INDEX webhook_events_status_received_at_idx ON webhook_events (status, received_at DESC);

-- Progress of each pull-based sync (Firestore collections, Langfuse API): the cursor is written in the same
-- transaction as the rows it covers.
CREATE TABLE sync_status (
  id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  sync_type           text NOT NULL,
  collection          text NOT NULL,
  cursor_value        text,
  cursor_document_id  text,
  running             boolean NOT NULL DEFAULT false,
  last_started_at     timestamptz,
  last_success_at     timestamptz,
  last_error          text,
  last_error_at       timestamptz,
  records_last_run    integer NOT NULL DEFAULT 0,
  records_total       bigint NOT NULL DEFAULT 0,
  lag_seconds         double precision,
  updated_at          timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT sync_status_sync_type_collection_key UNIQUE (sync_type, collection)
);

-- Rollups of live_traces per time bucket, source and model, for fast dashboards and the API.
CREATE TABLE performance_metrics (
  bucket_start     timestamptz NOT NULL,
  bucket_seconds   integer NOT NULL CHECK (bucket_seconds > 0),
  source           text NOT NULL,
  model            text NOT NULL,
  request_count    bigint NOT NULL DEFAULT 0,
  error_count      bigint NOT NULL DEFAULT 0,
  latency_p50_ms   double precision,
  latency_p95_ms   double precision,
  latency_p99_ms   double precision,
  input_tokens     bigint NOT NULL DEFAULT 0,
  output_tokens    bigint NOT NULL DEFAULT 0,
  cost_usd         numeric(20, 10) NOT NULL DEFAULT 0,
  updated_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (bucket_seconds, bucket_start, source, model)
);
CREATE INDEX performance_metrics_source_bucket_idx ON performance_metrics (source, bucket_start DESC);
CREATE INDEX performance_metrics_model_bucket_idx ON performance_metrics (model, bucket_start DESC);

-- The service's own configurable alerting: rules over live traces, and the events they raise.
CREATE TABLE alert_rules (
  id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name              text NOT NULL UNIQUE,
  description       text,
  metric            text NOT NULL,
  operator          text NOT NULL CHECK (operator IN ('>', '>=', '<', '<=', '=', '!=')),
  threshold         double precision NOT NULL,
  window_seconds    integer NOT NULL DEFAULT 300 CHECK (window_seconds > 0),
  filters           jsonb NOT NULL DEFAULT '{}'::jsonb,
  severity          text NOT NULL DEFAULT 'warning' CHECK (severity IN ('info', 'warning', 'critical')),
  channels          jsonb NOT NULL DEFAULT '[]'::jsonb,
  cooldown_seconds  integer NOT NULL DEFAULT 900 CHECK (cooldown_seconds >= 0),
  enabled           boolean NOT NULL DEFAULT true,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE alert_events (
  id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  rule_id           bigint REFERENCES alert_rules (id) ON DELETE SET NULL,
  origin            text NOT NULL DEFAULT 'rule',
  status            text NOT NULL DEFAULT 'fired' CHECK (status IN ('fired', 'resolved', 'acknowledged')),
  severity          text NOT NULL DEFAULT 'warning' CHECK (severity IN ('info', 'warning', 'critical')),
  title             text NOT NULL,
  message           text,
  value             double precision,
  labels            jsonb NOT NULL DEFAULT '{}'::jsonb,
  fired_at          timestamptz NOT NULL DEFAULT now(),
  resolved_at       timestamptz,
  acknowledged_at   timestamptz,
  acknowledged_by   text
);
CREATE INDEX alert_events_fired_at_idx ON alert_events (fired_at DESC);
CREATE INDEX alert_events_rule_status_idx ON alert_events (rule_id, status);

-- Settings changed at run time through the API (sync frequency, sources enabled, feature flags).
CREATE TABLE live_data_config (
  key         text PRIMARY KEY,
  value       jsonb NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  updated_by  text
);

-- Down Migration

DROP TABLE live_data_config;
DROP TABLE alert_events;
DROP TABLE alert_rules;
DROP TABLE performance_metrics;
DROP TABLE sync_status;
DROP TABLE webhook_events;
DROP TABLE live_trace_tombstones;
DROP TABLE live_traces;

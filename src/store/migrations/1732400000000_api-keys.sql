-- Up Migration

-- API keys of the live data API. The secret is kept only as its SHA-256 (see src/api/auth/api-key.ts).
CREATE TABLE api_keys (
  id            text PRIMARY KEY CHECK (id ~ '^[0-9a-f]{12}$'),
  name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  role          text NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
  secret_hash   bytea NOT NULL CHECK (length(secret_hash) = 32),
  created_at    timestamptz NOT NULL DEFAULT now(),
  created_by    text,
  last_used_at  timestamptz,
  revoked_at    timestamptz
);

-- Keyset pagination of the traces and webhook-events lists: newest first, ties by id. Each replaces the index
-- on received_at alone (which it serves as well), so ingest does not pay for one more index.
CREATE INDEX live_traces_received_at_id_idx ON live_traces (received_at DESC, id DESC);
DROP INDEX live_traces_received_at_idx;
CREATE INDEX webhook_events_received_at_id_idx ON webhook_events (received_at DESC, id DESC);
DROP INDEX webhook_events_received_at_idx;

-- Down Migration
CREATE INDEX webhook_events_received_at_idx ON webhook_events (received_at DESC);
DROP INDEX webhook_events_received_at_id_idx;
CREATE INDEX live_traces_received_at_idx ON live_traces (received_at DESC);
DROP INDEX live_traces_received_at_id_idx;
DROP TABLE api_keys;

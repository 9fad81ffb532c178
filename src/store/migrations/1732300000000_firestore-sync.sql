-- Up Migration

-- When a sync last read its collection to the end (the start of that run): the lag is measured from it.
ALTER TABLE sync_status ADD COLUMN caught_up_at timestamptz;
ALTER TABLE sync_status ADD COLUMN last_run_mode text;
ALTER TABLE sync_status ADD COLUMN malformed_last_run integer NOT NULL DEFAULT 0;
-- Derived, so not stored: a run is active while its advisory lock is held; the lag is now() - caught_up_at.
ALTER TABLE sync_status DROP COLUMN running;
ALTER TABLE sync_status DROP COLUMN lag_seconds;

-- A full sync finds the traces of a collection whose documents are gone: traces carry the document they came
-- from in metadata.firestore.
CREATE INDEX live_traces_firestore_document_idx
  ON live_traces (source, (metadata->'firestore'->>'collection'), updated_at)
  WHERE metadata ? 'firestore';

-- Down Migration
DROP INDEX live_traces_firestore_document_idx;
ALTER TABLE sync_status ADD COLUMN lag_seconds double precision;
ALTER TABLE sync_status ADD COLUMN running boolean NOT NULL DEFAULT false;
ALTER TABLE sync_status DROP COLUMN malformed_last_run;
ALTER TABLE sync_status DROP COLUMN last_run_mode;
ALTER TABLE sync_status DROP COLUMN caught_up_at;

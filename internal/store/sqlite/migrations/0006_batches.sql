-- Event batching: a pending batch job collects its events in batch.
ALTER TABLE errand_jobs ADD COLUMN batch_key TEXT;
ALTER TABLE errand_jobs ADD COLUMN batch TEXT;
CREATE INDEX IF NOT EXISTS errand_jobs_batch ON errand_jobs (function_id, batch_key) WHERE batch_key IS NOT NULL AND queue = 'scheduled' AND started_at IS NULL;

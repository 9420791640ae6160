-- Flow control keyed by a CEL expression: rate limits (rate_key) and
-- debouncing (debounce_key). NULL for functions without them.
ALTER TABLE errand_jobs ADD COLUMN rate_key TEXT;
ALTER TABLE errand_jobs ADD COLUMN debounce_key TEXT;
CREATE INDEX IF NOT EXISTS errand_jobs_rate ON errand_jobs (function_id, rate_key, created_at) WHERE rate_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS errand_jobs_debounce ON errand_jobs (function_id, debounce_key) WHERE debounce_key IS NOT NULL AND queue = 'scheduled' AND started_at IS NULL;

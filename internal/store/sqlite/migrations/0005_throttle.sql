-- Starts of throttled jobs, counted per key over the throttle's period.
CREATE TABLE IF NOT EXISTS errand_starts (
    key        TEXT NOT NULL,
    started_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS errand_starts_key ON errand_starts (key, started_at);

-- errand schema, version 1. Times are Unix microseconds (BIGINT).
CREATE TABLE IF NOT EXISTS errand_events (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    data        TEXT NOT NULL,
    user_data   TEXT,
    ts          BIGINT NOT NULL,
    owner       TEXT,
    received_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS errand_events_name ON errand_events (name, id);

CREATE TABLE IF NOT EXISTS errand_jobs (
    id               TEXT PRIMARY KEY,
    function_id      TEXT NOT NULL,
    event_id         TEXT NOT NULL,
    owner            TEXT,
    status           TEXT NOT NULL,
    queue            TEXT NOT NULL,
    attempt          INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL,
    priority         INTEGER NOT NULL DEFAULT 0,
    part             TEXT NOT NULL,
    limits           TEXT,
    run_at           BIGINT NOT NULL,
    lease_owner      TEXT,
    lease_token      TEXT,
    lease_until      BIGINT,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    input            TEXT NOT NULL,
    output           TEXT,
    error            TEXT,
    progress         REAL NOT NULL DEFAULT 0,
    progress_message TEXT,
    parent_job_id    TEXT,
    parent_step_id   TEXT,
    idempotency_key  TEXT,
    created_at       BIGINT NOT NULL,
    started_at       BIGINT,
    ended_at         BIGINT,
    updated_at       BIGINT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS errand_jobs_event_fn ON errand_jobs (event_id, function_id);
CREATE UNIQUE INDEX IF NOT EXISTS errand_jobs_idem ON errand_jobs (function_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS errand_jobs_ready ON errand_jobs (part, priority DESC, run_at, id) WHERE queue = 'ready';
CREATE INDEX IF NOT EXISTS errand_jobs_scheduled ON errand_jobs (run_at) WHERE queue = 'scheduled';
CREATE INDEX IF NOT EXISTS errand_jobs_leased ON errand_jobs (lease_until) WHERE queue = 'leased';
CREATE INDEX IF NOT EXISTS errand_jobs_owner ON errand_jobs (owner, id);

CREATE TABLE IF NOT EXISTS errand_steps (
    job_id     TEXT NOT NULL,
    id         TEXT NOT NULL,
    name       TEXT NOT NULL,
    kind       TEXT NOT NULL,
    status     TEXT NOT NULL,
    output     TEXT,
    error      TEXT,
    attempts   INTEGER NOT NULL DEFAULT 0,
    started_at BIGINT NOT NULL,
    ended_at   BIGINT,
    wake_at    BIGINT,
    PRIMARY KEY (job_id, id)
);

CREATE TABLE IF NOT EXISTS errand_waits (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id     TEXT NOT NULL,
    step_id    TEXT NOT NULL DEFAULT '',
    event_name TEXT NOT NULL,
    expr       TEXT NOT NULL DEFAULT '',
    expires_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS errand_waits_event ON errand_waits (event_name);
CREATE INDEX IF NOT EXISTS errand_waits_job ON errand_waits (job_id);
CREATE UNIQUE INDEX IF NOT EXISTS errand_waits_step ON errand_waits (job_id, step_id) WHERE step_id <> '';

CREATE TABLE IF NOT EXISTS errand_functions (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    app        TEXT NOT NULL,
    config     TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS errand_leaders (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

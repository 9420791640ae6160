-- Accounts and sessions (the GoTrue-compatible API). Refresh tokens are
-- stored as SHA-256 hashes, never in clear.
CREATE TABLE IF NOT EXISTS errand_users (
    id                 TEXT PRIMARY KEY,
    email              TEXT NOT NULL,
    encrypted_password TEXT NOT NULL,
    phone              TEXT NOT NULL DEFAULT '',
    role               TEXT NOT NULL DEFAULT 'authenticated',
    app_metadata       TEXT NOT NULL,
    user_metadata      TEXT NOT NULL,
    email_confirmed_at BIGINT,
    banned_until       BIGINT,
    last_sign_in_at    BIGINT,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS errand_users_email ON errand_users (email);

CREATE TABLE IF NOT EXISTS errand_sessions (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL,
    aal        TEXT NOT NULL DEFAULT 'aal1',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS errand_sessions_user ON errand_sessions (user_id);

CREATE TABLE IF NOT EXISTS errand_refresh_tokens (
    id         TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    session_id TEXT NOT NULL,
    parent     TEXT NOT NULL DEFAULT '',
    revoked    INTEGER NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS errand_refresh_tokens_hash ON errand_refresh_tokens (token_hash);
CREATE INDEX IF NOT EXISTS errand_refresh_tokens_session ON errand_refresh_tokens (session_id);

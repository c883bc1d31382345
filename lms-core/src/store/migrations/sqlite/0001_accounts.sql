-- Accounts, login sessions and the event log.
-- Ids are UUIDs stored as 16-byte blobs; times are RFC 3339 text in UTC with
-- exactly six fractional digits, so text order is time order.

CREATE TABLE users (
    id                  BLOB PRIMARY KEY NOT NULL,
    email               TEXT NOT NULL,
    display_name        TEXT NOT NULL,
    bio                 TEXT,
    avatar_key          TEXT,
    role                TEXT NOT NULL DEFAULT 'student'
                        CHECK (role IN ('student', 'instructor', 'admin')),
    password_hash       TEXT,
    disabled            INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    token_version       INTEGER NOT NULL DEFAULT 0,
    failed_logins       INTEGER NOT NULL DEFAULT 0 CHECK (failed_logins >= 0),
    locked_until        TEXT,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    deleted_at          TEXT,
    CHECK (email = lower(email)),
    CHECK (deleted_at IS NOT NULL OR password_hash IS NOT NULL)
);
CREATE UNIQUE INDEX users_email_key ON users (email);

CREATE TABLE sessions (
    id                  BLOB PRIMARY KEY NOT NULL,
    user_id             BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at          TEXT NOT NULL,
    last_used_at        TEXT NOT NULL,
    revoked_at          TEXT
);
CREATE INDEX sessions_user_idx ON sessions (user_id);

CREATE TABLE refresh_tokens (
    token_hash          TEXT PRIMARY KEY NOT NULL,
    session_id          BLOB NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    user_id             BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at          TEXT NOT NULL,
    expires_at          TEXT NOT NULL,
    used_at             TEXT
);
CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);

CREATE TABLE events (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    kind                TEXT NOT NULL,
    subject_type        TEXT NOT NULL,
    subject_id          BLOB NOT NULL,
    user_id             BLOB,
    actor_kind          TEXT NOT NULL CHECK (actor_kind IN ('anonymous', 'system', 'user')),
    actor_id            BLOB,
    payload             TEXT NOT NULL CHECK (json_valid(payload)),
    created_at          TEXT NOT NULL
);
CREATE INDEX events_kind_idx ON events (kind, id);
CREATE INDEX events_user_idx ON events (user_id, id);

-- The log is append-only: refuse edits and deletions at the database.
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;

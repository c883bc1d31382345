-- Accounts, login sessions and the event log.

CREATE TABLE users (
    id                  UUID PRIMARY KEY,
    email               TEXT NOT NULL,
    display_name        TEXT NOT NULL,
    bio                 TEXT,
    avatar_key          TEXT,
    role                TEXT NOT NULL DEFAULT 'student'
                        CHECK (role IN ('student', 'instructor', 'admin')),
    password_hash       TEXT,
    disabled            BOOLEAN NOT NULL DEFAULT FALSE,
    token_version       BIGINT NOT NULL DEFAULT 0,
    failed_logins       BIGINT NOT NULL DEFAULT 0 CHECK (failed_logins >= 0),
    locked_until        TIMESTAMPTZ,
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL,
    deleted_at          TIMESTAMPTZ,
    CHECK (email = lower(email)),
    CHECK (deleted_at IS NOT NULL OR password_hash IS NOT NULL)
);
CREATE UNIQUE INDEX users_email_key ON users (email);

CREATE TABLE sessions (
    id                  UUID PRIMARY KEY,
    user_id             UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at          TIMESTAMPTZ NOT NULL,
    last_used_at        TIMESTAMPTZ NOT NULL,
    revoked_at          TIMESTAMPTZ
);
CREATE INDEX sessions_user_idx ON sessions (user_id);

CREATE TABLE refresh_tokens (
    token_hash          TEXT PRIMARY KEY,
    session_id          UUID NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    user_id             UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at          TIMESTAMPTZ NOT NULL,
    expires_at          TIMESTAMPTZ NOT NULL,
    used_at             TIMESTAMPTZ
);
CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);

CREATE TABLE events (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind                TEXT NOT NULL,
    subject_type        TEXT NOT NULL,
    subject_id          UUID NOT NULL,
    user_id             UUID,
    actor_kind          TEXT NOT NULL CHECK (actor_kind IN ('anonymous', 'system', 'user')),
    actor_id            UUID,
    payload             JSONB NOT NULL,
    created_at          TIMESTAMPTZ NOT NULL
);
CREATE INDEX events_kind_idx ON events (kind, id);
CREATE INDEX events_user_idx ON events (user_id, id);

-- The log is append-only: refuse edits and deletions at the database.
CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the event log is append-only';
END;
$$;
CREATE TRIGGER events_no_change BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_append_only();
-- TRUNCATE fires no row triggers: refuse it with a statement trigger.
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_append_only();

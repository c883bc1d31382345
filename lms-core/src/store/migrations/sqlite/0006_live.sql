-- Live classes: LiveKit rooms scheduled on a course, their status as the
-- room's webhooks report it, and the ingress streaming software sends to.
-- LiveKit deliveries are deduplicated in webhook_events (0005) like Mux's.

CREATE TABLE live_sessions (
    id              BLOB PRIMARY KEY NOT NULL,
    course_id       BLOB NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    title           TEXT NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    starts_at       TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('scheduled', 'live', 'ended', 'cancelled')),
    room_name       TEXT NOT NULL UNIQUE,
    created_by      BLOB NOT NULL REFERENCES users (id),
    -- The stream key is kept because the owner must be able to read it
    -- again to set up the encoder; it is never logged or shown to learners.
    ingress_id      TEXT UNIQUE,
    ingress_type    TEXT CHECK (ingress_type IN ('rtmp', 'whip')),
    ingress_url     TEXT,
    stream_key      TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    started_at      TEXT,
    ended_at        TEXT,
    CHECK ((status IN ('ended', 'cancelled')) = (ended_at IS NOT NULL)),
    CHECK (status <> 'live' OR started_at IS NOT NULL),
    CHECK ((ingress_id IS NULL) = (ingress_type IS NULL)
       AND (ingress_id IS NULL) = (ingress_url IS NULL)
       AND (ingress_id IS NULL) = (stream_key IS NULL))
);
CREATE INDEX live_sessions_course_idx ON live_sessions (course_id, starts_at, id);

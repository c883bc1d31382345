-- Media: uploaded files (assets) from their upload ticket on, what they are
-- attached to, and their state at the video provider. Webhook deliveries
-- seen from any provider, so a redelivered event is recognized.

CREATE TABLE assets (
    id                  UUID PRIMARY KEY,
    owner_id            UUID NOT NULL REFERENCES users (id),
    purpose             TEXT NOT NULL CHECK (purpose IN
                        ('avatar', 'course_thumbnail', 'lecture_video', 'lecture_attachment')),
    course_id           UUID REFERENCES courses (id) ON DELETE CASCADE,
    lecture_id          UUID REFERENCES lectures (id) ON DELETE CASCADE,
    object_key          TEXT NOT NULL UNIQUE,
    file_name           TEXT NOT NULL,
    content_type        TEXT NOT NULL,
    size                BIGINT NOT NULL CHECK (size > 0),
    status              TEXT NOT NULL CHECK (status IN ('pending', 'stored')),
    video_status        TEXT CHECK (video_status IN ('processing', 'ready', 'errored', 'deleted')),
    mux_asset_id        TEXT UNIQUE,
    playback_id         TEXT,
    duration_secs       BIGINT CHECK (duration_secs >= 0),
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL,
    upload_expires_at   TIMESTAMPTZ NOT NULL,
    stored_at           TIMESTAMPTZ,
    CHECK ((status = 'stored') = (stored_at IS NOT NULL)),
    CHECK (purpose NOT IN ('lecture_video', 'lecture_attachment') OR lecture_id IS NOT NULL),
    CHECK (purpose <> 'course_thumbnail' OR course_id IS NOT NULL)
);
CREATE INDEX assets_lecture_idx ON assets (lecture_id, purpose, id);
CREATE INDEX assets_course_idx ON assets (course_id);
CREATE INDEX assets_owner_idx ON assets (owner_id, id);

-- The video a video lecture plays; a newer upload replaces it.
ALTER TABLE lectures ADD COLUMN video_asset_id UUID REFERENCES assets (id) ON DELETE SET NULL;

CREATE TABLE webhook_events (
    provider            TEXT NOT NULL,
    event_id            TEXT NOT NULL,
    event_type          TEXT NOT NULL,
    received_at         TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (provider, event_id)
);

-- The learning domain. The course tree: courses, their ordered sections, and the sections'
-- ordered lectures. Positions are dense (0, 1, 2, ...) within a parent; the
-- unique keys make a duplicate position impossible whatever the code does.

CREATE TABLE courses (
    id                  UUID PRIMARY KEY,
    slug                TEXT NOT NULL,
    title               TEXT NOT NULL,
    subtitle            TEXT NOT NULL DEFAULT '',
    description         TEXT NOT NULL DEFAULT '',
    level               TEXT NOT NULL DEFAULT 'all'
                        CHECK (level IN ('beginner', 'intermediate', 'advanced', 'all')),
    language            TEXT NOT NULL DEFAULT 'en',
    tags                JSONB NOT NULL DEFAULT '[]',
    price_amount        BIGINT CHECK (price_amount IS NULL OR price_amount > 0),
    price_currency      TEXT,
    thumbnail_key       TEXT,
    owner_id            UUID NOT NULL REFERENCES users (id),
    status              TEXT NOT NULL DEFAULT 'draft'
                        CHECK (status IN ('draft', 'published', 'archived')),
    enrollment_count    BIGINT NOT NULL DEFAULT 0 CHECK (enrollment_count >= 0),
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL,
    published_at        TIMESTAMPTZ,
    CHECK ((price_amount IS NULL) = (price_currency IS NULL))
);
CREATE UNIQUE INDEX courses_slug_key ON courses (slug);
CREATE INDEX courses_owner_idx ON courses (owner_id, id);
CREATE INDEX courses_status_idx ON courses (status, id);

CREATE TABLE sections (
    id                  UUID PRIMARY KEY,
    course_id           UUID NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    title               TEXT NOT NULL,
    position            INTEGER NOT NULL,
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL,
    UNIQUE (course_id, position)
);

CREATE TABLE lectures (
    id                  UUID PRIMARY KEY,
    course_id           UUID NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    section_id          UUID NOT NULL REFERENCES sections (id) ON DELETE CASCADE,
    title               TEXT NOT NULL,
    kind                TEXT NOT NULL CHECK (kind IN ('video', 'article')),
    body                TEXT NOT NULL DEFAULT '',
    duration_secs       BIGINT NOT NULL DEFAULT 0 CHECK (duration_secs >= 0),
    free_preview        BOOLEAN NOT NULL DEFAULT FALSE,
    position            INTEGER NOT NULL,
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL,
    UNIQUE (section_id, position)
);
CREATE INDEX lectures_course_idx ON lectures (course_id);

-- Catalog search: a generated text-search vector with a GIN index. The
-- 'simple' configuration neither stems nor drops stop words, so it works
-- the same for every teaching language.
ALTER TABLE courses ADD COLUMN search tsvector GENERATED ALWAYS AS (
    to_tsvector('simple', title || ' ' || subtitle || ' ' || description || ' ' || tags::text)
) STORED;
CREATE INDEX courses_search_idx ON courses USING GIN (search);

-- A learner's place in a course. One row per (course, learner) ever:
-- enrolling again reactivates it, so progress survives a revoke.
CREATE TABLE enrollments (
    id                  UUID PRIMARY KEY,
    course_id           UUID NOT NULL REFERENCES courses (id),
    user_id             UUID NOT NULL REFERENCES users (id),
    source              TEXT NOT NULL CHECK (source IN ('free', 'grant', 'purchase')),
    status              TEXT NOT NULL CHECK (status IN ('active', 'revoked')),
    expires_at          TIMESTAMPTZ,
    granted_by          UUID REFERENCES users (id),
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL,
    revoked_at          TIMESTAMPTZ,
    completed_at        TIMESTAMPTZ,
    last_lecture_id     UUID REFERENCES lectures (id) ON DELETE SET NULL,
    last_activity_at    TIMESTAMPTZ,
    UNIQUE (course_id, user_id)
);
CREATE INDEX enrollments_user_idx ON enrollments (user_id, id);

CREATE TABLE lecture_progress (
    user_id             UUID NOT NULL REFERENCES users (id),
    lecture_id          UUID NOT NULL REFERENCES lectures (id) ON DELETE CASCADE,
    course_id           UUID NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    completed_at        TIMESTAMPTZ,
    position_secs       BIGINT NOT NULL DEFAULT 0 CHECK (position_secs >= 0),
    updated_at          TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, lecture_id)
);
CREATE INDEX lecture_progress_course_idx ON lecture_progress (user_id, course_id);

-- Events about a course (its tree, enrollments, progress) name it too.
ALTER TABLE events ADD COLUMN course_id UUID;
CREATE INDEX events_course_idx ON events (course_id, id);

-- The learning domain. The course tree: courses, their ordered sections, and the sections'
-- ordered lectures. Positions are dense (0, 1, 2, ...) within a parent; the
-- unique keys make a duplicate position impossible whatever the code does.

CREATE TABLE courses (
    id                  BLOB PRIMARY KEY NOT NULL,
    slug                TEXT NOT NULL,
    title               TEXT NOT NULL,
    subtitle            TEXT NOT NULL DEFAULT '',
    description         TEXT NOT NULL DEFAULT '',
    level               TEXT NOT NULL DEFAULT 'all'
                        CHECK (level IN ('beginner', 'intermediate', 'advanced', 'all')),
    language            TEXT NOT NULL DEFAULT 'en',
    tags                TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(tags)),
    price_amount        INTEGER CHECK (price_amount IS NULL OR price_amount > 0),
    price_currency      TEXT,
    thumbnail_key       TEXT,
    owner_id            BLOB NOT NULL REFERENCES users (id),
    status              TEXT NOT NULL DEFAULT 'draft'
                        CHECK (status IN ('draft', 'published', 'archived')),
    enrollment_count    INTEGER NOT NULL DEFAULT 0 CHECK (enrollment_count >= 0),
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    published_at        TEXT,
    CHECK ((price_amount IS NULL) = (price_currency IS NULL))
);
CREATE UNIQUE INDEX courses_slug_key ON courses (slug);
CREATE INDEX courses_owner_idx ON courses (owner_id, id);
CREATE INDEX courses_status_idx ON courses (status, id);

CREATE TABLE sections (
    id                  BLOB PRIMARY KEY NOT NULL,
    course_id           BLOB NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    title               TEXT NOT NULL,
    position            INTEGER NOT NULL,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    UNIQUE (course_id, position)
);

CREATE TABLE lectures (
    id                  BLOB PRIMARY KEY NOT NULL,
    course_id           BLOB NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    section_id          BLOB NOT NULL REFERENCES sections (id) ON DELETE CASCADE,
    title               TEXT NOT NULL,
    kind                TEXT NOT NULL CHECK (kind IN ('video', 'article')),
    body                TEXT NOT NULL DEFAULT '',
    duration_secs       INTEGER NOT NULL DEFAULT 0 CHECK (duration_secs >= 0),
    free_preview        INTEGER NOT NULL DEFAULT 0 CHECK (free_preview IN (0, 1)),
    position            INTEGER NOT NULL,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    UNIQUE (section_id, position)
);
CREATE INDEX lectures_course_idx ON lectures (course_id);

-- Catalog search: an FTS5 index kept in step with courses by triggers.
CREATE VIRTUAL TABLE course_search USING fts5(
    course_id UNINDEXED, title, subtitle, description, tags,
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER courses_search_insert AFTER INSERT ON courses BEGIN
    INSERT INTO course_search (course_id, title, subtitle, description, tags)
    VALUES (new.id, new.title, new.subtitle, new.description, new.tags);
END;
CREATE TRIGGER courses_search_update AFTER UPDATE OF title, subtitle, description, tags ON courses BEGIN
    DELETE FROM course_search WHERE course_id = old.id;
    INSERT INTO course_search (course_id, title, subtitle, description, tags)
    VALUES (new.id, new.title, new.subtitle, new.description, new.tags);
END;
CREATE TRIGGER courses_search_delete AFTER DELETE ON courses BEGIN
    DELETE FROM course_search WHERE course_id = old.id;
END;

-- A learner's place in a course. One row per (course, learner) ever:
-- enrolling again reactivates it, so progress survives a revoke.
CREATE TABLE enrollments (
    id                  BLOB PRIMARY KEY NOT NULL,
    course_id           BLOB NOT NULL REFERENCES courses (id),
    user_id             BLOB NOT NULL REFERENCES users (id),
    source              TEXT NOT NULL CHECK (source IN ('free', 'grant', 'purchase')),
    status              TEXT NOT NULL CHECK (status IN ('active', 'revoked')),
    expires_at          TEXT,
    granted_by          BLOB REFERENCES users (id),
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    revoked_at          TEXT,
    completed_at        TEXT,
    last_lecture_id     BLOB REFERENCES lectures (id) ON DELETE SET NULL,
    last_activity_at    TEXT,
    UNIQUE (course_id, user_id)
);
CREATE INDEX enrollments_user_idx ON enrollments (user_id, id);

CREATE TABLE lecture_progress (
    user_id             BLOB NOT NULL REFERENCES users (id),
    lecture_id          BLOB NOT NULL REFERENCES lectures (id) ON DELETE CASCADE,
    course_id           BLOB NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    completed_at        TEXT,
    position_secs       INTEGER NOT NULL DEFAULT 0 CHECK (position_secs >= 0),
    updated_at          TEXT NOT NULL,
    PRIMARY KEY (user_id, lecture_id)
);
CREATE INDEX lecture_progress_course_idx ON lecture_progress (user_id, course_id);

-- Events about a course (its tree, enrollments, progress) name it too.
ALTER TABLE events ADD COLUMN course_id BLOB;
CREATE INDEX events_course_idx ON events (course_id, id);

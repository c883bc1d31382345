-- A learner's progress rows in one course are read together (every
-- progress report, every batch of progress writes). Keyed by user, course
-- and lecture in a table without rowids, they sit side by side: one range
-- scan reads them, where the (user_id, course_id) index led to one table
-- lookup per row. The (user_id, lecture_id) key stays unique.
CREATE TABLE lecture_progress_by_course (
    user_id             BLOB NOT NULL REFERENCES users (id),
    lecture_id          BLOB NOT NULL REFERENCES lectures (id) ON DELETE CASCADE,
    course_id           BLOB NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    completed_at        TEXT,
    position_secs       INTEGER NOT NULL DEFAULT 0 CHECK (position_secs >= 0),
    updated_at          TEXT NOT NULL,
    PRIMARY KEY (user_id, course_id, lecture_id),
    UNIQUE (user_id, lecture_id)
) WITHOUT ROWID;
INSERT INTO lecture_progress_by_course
    (user_id, lecture_id, course_id, completed_at, position_secs, updated_at)
    SELECT user_id, lecture_id, course_id, completed_at, position_secs, updated_at
    FROM lecture_progress;
DROP TABLE lecture_progress;
ALTER TABLE lecture_progress_by_course RENAME TO lecture_progress;

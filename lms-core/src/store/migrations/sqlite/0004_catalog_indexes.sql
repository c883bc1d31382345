-- The catalog's default order within a status, walked by the index with the
-- page's LIMIT; and the lecture aggregates of a page read from an index
-- alone (count and total duration per course).
CREATE INDEX courses_catalog_idx ON courses (status, published_at DESC, id DESC);
CREATE INDEX lectures_duration_idx ON lectures (course_id, duration_secs);

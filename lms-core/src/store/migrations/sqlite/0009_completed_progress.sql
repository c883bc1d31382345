-- Every progress write reads which lectures the learner has completed in
-- the course. Scanning all the learner's rows there grows with every
-- lecture merely started (a player reports a position for each); this
-- index holds the completed rows alone, with every column that read
-- needs, so it reads only those.
CREATE INDEX lecture_progress_completed_idx
    ON lecture_progress (user_id, course_id, completed_at, position_secs, updated_at)
    WHERE completed_at IS NOT NULL;

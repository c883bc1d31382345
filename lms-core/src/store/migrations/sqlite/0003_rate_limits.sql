-- Request rate limits shared by every instance on this database.
-- One row per bucket (a hashed key such as "login by this address"), holding
-- the bucket's theoretical arrival time (GCRA) in microseconds since the
-- epoch: a row whose time has passed is the same as no row, so old rows can
-- be deleted at any time.

CREATE TABLE rate_limits (
    bucket              TEXT PRIMARY KEY NOT NULL,
    tat_us              INTEGER NOT NULL,
    allowed             INTEGER NOT NULL CHECK (allowed IN (0, 1))
) WITHOUT ROWID;

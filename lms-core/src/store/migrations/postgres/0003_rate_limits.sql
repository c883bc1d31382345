-- Request rate limits shared by every instance on this database.
-- One row per bucket (a hashed key such as "login by this address"), holding
-- the bucket's theoretical arrival time (GCRA) in microseconds since the
-- epoch: a row whose time has passed is the same as no row, so old rows can
-- be deleted at any time. Unlogged: losing the limits in a crash only
-- forgives a few attempts, and it keeps this hot table off the WAL.

CREATE UNLOGGED TABLE rate_limits (
    bucket              TEXT PRIMARY KEY,
    tat_us              BIGINT NOT NULL,
    allowed             BIGINT NOT NULL CHECK (allowed IN (0, 1))
);

-- Who took an enrollment away: the course's owner or an admin ('owner'),
-- or the refund of the purchase that gave it ('refund'). A learner
-- removed by the owner may not buy their way back in; one refunded may
-- buy again. NULL while the enrollment is active.
ALTER TABLE enrollments ADD COLUMN revoked_by TEXT
    CHECK (revoked_by IN ('owner', 'refund'));

-- Enrollments revoked before this column: a full refund revoked the
-- purchase enrollment in the transaction that closed the order, at the
-- same time; every other revocation was the owner's.
UPDATE enrollments SET revoked_by = CASE WHEN EXISTS (
        SELECT 1 FROM orders o
        WHERE o.user_id = enrollments.user_id AND o.course_id = enrollments.course_id
          AND o.status = 'refunded' AND o.closed_at = enrollments.revoked_at
    ) THEN 'refund' ELSE 'owner' END
WHERE status = 'revoked';

-- Operator actions (issue 16): an order an operator ignored is out of needs attention (the
-- overview's counts and causes) without moving its stage, until un-ignored. Unix ms; NULL: not
-- ignored.
ALTER TABLE orders ADD COLUMN ignored_at BIGINT;

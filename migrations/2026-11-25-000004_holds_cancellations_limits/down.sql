DROP TABLE ticket_buyers;
DROP INDEX purchases_hold_id_key;
ALTER TABLE purchases DROP COLUMN cancelled_at, DROP COLUMN hold_id;
DROP TABLE holds;
ALTER TABLE tickets DROP CONSTRAINT tickets_within_allocation;
ALTER TABLE tickets DROP COLUMN max_per_user, DROP COLUMN max_per_purchase, DROP COLUMN held;
ALTER TABLE tickets ADD CONSTRAINT tickets_remaining_within_allocation
    CHECK (remaining >= 0 AND remaining <= allocation);

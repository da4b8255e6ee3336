-- What a box office needs: holds during checkout, cancellations, per-buyer
-- limits. The books now have three parts, and the schema keeps them:
--   remaining (left to buy) + held (by holds not yet ended) + sold = allocation,
-- where sold is the quantity of the purchases not cancelled. Every change to
-- a ticket's holds, purchases or buyers is made under the ticket's row lock.

ALTER TABLE tickets
    ADD COLUMN held INTEGER NOT NULL DEFAULT 0,
    -- Each optional; a limit, once set, never changes.
    ADD COLUMN max_per_purchase INTEGER CONSTRAINT tickets_max_per_purchase_positive
        CHECK (max_per_purchase >= 1),
    ADD COLUMN max_per_user INTEGER CONSTRAINT tickets_max_per_user_positive
        CHECK (max_per_user >= 1);
ALTER TABLE tickets DROP CONSTRAINT tickets_remaining_within_allocation;
ALTER TABLE tickets ADD CONSTRAINT tickets_within_allocation
    CHECK (remaining >= 0 AND held >= 0 AND remaining + held <= allocation);

-- A hold keeps its tickets out of sale until it is confirmed (it becomes a
-- purchase), released, or expires. A hold past expires_at is expired
-- whatever its status says: the server treats it so at once, and marks it
-- when it next holds the ticket's lock (or its sweeper comes by).
CREATE TABLE holds (
    id          UUID PRIMARY KEY,
    ticket_id   BIGINT NOT NULL REFERENCES tickets (id),
    user_id     UUID NOT NULL,
    quantity    INTEGER NOT NULL CHECK (quantity > 0),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at  TIMESTAMPTZ NOT NULL,
    status      TEXT NOT NULL DEFAULT 'held'
        CHECK (status IN ('held', 'confirmed', 'released', 'expired')),
    ended_at    TIMESTAMPTZ,
    purchase_id UUID REFERENCES purchases (id),
    CONSTRAINT holds_ended_when_not_held CHECK ((status = 'held') = (ended_at IS NULL)),
    CONSTRAINT holds_confirmed_as_a_purchase
        CHECK ((status = 'confirmed') = (purchase_id IS NOT NULL))
);
-- The holds still held, by ticket and expiry: what expires next, and what
-- a ticket's availability must not count.
CREATE INDEX holds_held_idx ON holds (ticket_id, expires_at) WHERE status = 'held';

ALTER TABLE purchases
    ADD COLUMN hold_id UUID,
    ADD COLUMN cancelled_at TIMESTAMPTZ;
-- A hold becomes a purchase at most once.
CREATE UNIQUE INDEX purchases_hold_id_key ON purchases (hold_id) WHERE hold_id IS NOT NULL;

-- What each buyer has of a ticket with a per-buyer limit: bought (not
-- cancelled) and held (by holds not ended). The limit is copied in, so the
-- row itself refuses to pass it, whichever code path writes it.
CREATE TABLE ticket_buyers (
    ticket_id    BIGINT NOT NULL REFERENCES tickets (id),
    user_id      UUID NOT NULL,
    bought       INTEGER NOT NULL CHECK (bought >= 0),
    held         INTEGER NOT NULL CHECK (held >= 0),
    max_per_user INTEGER NOT NULL,
    PRIMARY KEY (ticket_id, user_id),
    CONSTRAINT ticket_buyers_within_limit CHECK (bought + held <= max_per_user)
);

-- Tickets and the purchases made from them. The invariants the service
-- promises are constraints here too, so no code path can break them.
CREATE TABLE tickets (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        TEXT NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    description TEXT NOT NULL CHECK (char_length(description) <= 2000),
    -- How many tickets the organiser put on sale: never changes.
    allocation  INTEGER NOT NULL CHECK (allocation >= 0),
    -- How many are left to buy: only ever decremented by a purchase.
    remaining   INTEGER NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT tickets_remaining_within_allocation
        CHECK (remaining >= 0 AND remaining <= allocation)
);

CREATE TABLE purchases (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ticket_id    BIGINT NOT NULL REFERENCES tickets (id),
    user_id      UUID NOT NULL,
    quantity     INTEGER NOT NULL CHECK (quantity > 0),
    purchased_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX purchases_ticket_id_idx ON purchases (ticket_id);

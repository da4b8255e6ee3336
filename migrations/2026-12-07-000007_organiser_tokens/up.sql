-- Organisers and their API tokens (docs/AUTH.md). A token is stored only as
-- the SHA-256 of its text: the text is 256 random bits, so a leaked table
-- gives nothing to guess from, and a fast hash is as safe as a slow one.

CREATE TABLE organisers (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name TEXT NOT NULL UNIQUE CHECK (char_length(name) BETWEEN 1 AND 200),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE organiser_tokens (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organiser_id BIGINT NOT NULL REFERENCES organisers (id),
    secret_hash BYTEA NOT NULL UNIQUE CHECK (octet_length(secret_hash) = 32),
    can_create_tickets BOOLEAN NOT NULL,
    can_read_orders BOOLEAN NOT NULL,
    can_change_orders BOOLEAN NOT NULL,
    can_sell_for_buyer BOOLEAN NOT NULL,
    -- NULL: every ticket of the organiser's; otherwise only these.
    ticket_ids BIGINT[] CHECK (ticket_ids IS NULL OR cardinality(ticket_ids) > 0),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    revoked_at TIMESTAMPTZ,
    CHECK (can_create_tickets OR can_read_orders OR can_change_orders OR can_sell_for_buyer)
);

CREATE INDEX organiser_tokens_organiser ON organiser_tokens (organiser_id);

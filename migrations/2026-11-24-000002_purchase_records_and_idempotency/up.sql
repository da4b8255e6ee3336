-- Purchases become records clients can address: the id is a UUID the server
-- makes (time-ordered, version 7), so a batch of purchases knows each row's
-- id before it is written, and ids reveal nothing about sales volume.
ALTER TABLE purchases DROP CONSTRAINT purchases_pkey;
ALTER TABLE purchases RENAME COLUMN id TO legacy_id;
ALTER TABLE purchases ADD COLUMN id UUID NOT NULL DEFAULT gen_random_uuid();
ALTER TABLE purchases ALTER COLUMN id DROP DEFAULT;
ALTER TABLE purchases DROP COLUMN legacy_id;
ALTER TABLE purchases ADD PRIMARY KEY (id);

-- Keyset pagination of a ticket's purchases, oldest first.
DROP INDEX purchases_ticket_id_idx;
CREATE INDEX purchases_ticket_id_id_idx ON purchases (ticket_id, id);

-- Responses to requests sent with an Idempotency-Key, written in the same
-- transaction as the change they answer, replayed to retries.
CREATE TABLE idempotency_keys (
    key         TEXT PRIMARY KEY CHECK (char_length(key) BETWEEN 1 AND 255),
    -- SHA-256 of the request (method, path, body): a retry must match it.
    fingerprint TEXT NOT NULL,
    status      SMALLINT NOT NULL,
    location    TEXT,
    body        TEXT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys (created_at);

DROP TABLE idempotency_keys;
DROP INDEX purchases_ticket_id_id_idx;
ALTER TABLE purchases DROP CONSTRAINT purchases_pkey;
ALTER TABLE purchases RENAME COLUMN id TO uuid_id;
ALTER TABLE purchases ADD COLUMN id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY;
ALTER TABLE purchases DROP COLUMN uuid_id;
CREATE INDEX purchases_ticket_id_idx ON purchases (ticket_id);

ALTER TABLE purchases DROP CONSTRAINT purchases_ticket_id_seq_key;
CREATE INDEX purchases_ticket_id_id_idx ON purchases (ticket_id, id);
ALTER TABLE purchases DROP COLUMN seq;
ALTER TABLE tickets DROP COLUMN last_purchase_seq;

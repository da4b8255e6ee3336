-- Purchases are listed in the order they committed. Each ticket numbers its
-- purchases: a purchase takes the next numbers in the same UPDATE that takes
-- its tickets, under the ticket's row lock, so a higher number never commits
-- before a lower one, whichever server made it. A reader that pages through
-- the list by number while buyers buy sees every purchase exactly once; a
-- UUIDv7 id made before the lock could not promise that.
ALTER TABLE tickets ADD COLUMN last_purchase_seq BIGINT NOT NULL DEFAULT 0
    CONSTRAINT tickets_last_purchase_seq_not_negative CHECK (last_purchase_seq >= 0);

ALTER TABLE purchases ADD COLUMN seq BIGINT;
UPDATE purchases p
   SET seq = numbered.seq
  FROM (SELECT id, row_number() OVER (PARTITION BY ticket_id ORDER BY purchased_at, id) AS seq
          FROM purchases) numbered
 WHERE p.id = numbered.id;
UPDATE tickets t
   SET last_purchase_seq = made.count
  FROM (SELECT ticket_id, count(*) AS count FROM purchases GROUP BY ticket_id) made
 WHERE t.id = made.ticket_id;
ALTER TABLE purchases ALTER COLUMN seq SET NOT NULL;
ALTER TABLE purchases ADD CONSTRAINT purchases_seq_positive CHECK (seq >= 1);

-- Pages are read by (ticket, number); two purchases of a ticket can never
-- share a number.
DROP INDEX purchases_ticket_id_id_idx;
ALTER TABLE purchases ADD CONSTRAINT purchases_ticket_id_seq_key UNIQUE (ticket_id, seq);

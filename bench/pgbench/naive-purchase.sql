-- The naive purchase, not what the server runs: a transaction of four round
-- trips (BEGIN, the conditional UPDATE taking the purchase's number, the
-- INSERT, COMMIT) per buyer, which holds the ticket's row lock across them.
-- A reference row only; the goals are judged against purchase.sql.
--   pgbench -M prepared -D first=.. -D last=..
\set id random(:first, :last)
BEGIN;
UPDATE tickets SET remaining = remaining - 1, last_purchase_seq = last_purchase_seq + 1
 WHERE id = :id AND remaining >= 1 RETURNING last_purchase_seq AS seq \gset
INSERT INTO purchases (id, ticket_id, user_id, quantity, seq)
    VALUES (gen_random_uuid(), :id, '406c1d05-bbb2-4e94-b183-7d208c2692e1', 1, :seq);
COMMIT;

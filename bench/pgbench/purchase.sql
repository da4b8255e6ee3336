-- The anchor for purchases: the cheapest statement that makes one purchase
-- as the server records it (the conditional decrement, the purchase's
-- number and its row), in one autocommit round trip. It is what the
-- server's batch statement (RecordWhereAllFit, server/src/storage/
-- orders/fast.rs) does for a single purchase, without the arrays and
-- grouping a batch needs: update this file when what a purchase writes
-- changes. The server makes the purchase's id itself; here the database
-- does (gen_random_uuid()).
--   pgbench -M prepared -D first=.. -D last=..: a random ticket among those ids
\set id random(:first, :last)
WITH sold AS (
    UPDATE tickets SET remaining = remaining - 1, last_purchase_seq = last_purchase_seq + 1
     WHERE id = :id AND remaining >= 1
 RETURNING id, last_purchase_seq)
INSERT INTO purchases (id, ticket_id, user_id, quantity, seq)
SELECT gen_random_uuid(), sold.id, '406c1d05-bbb2-4e94-b183-7d208c2692e1', 1, sold.last_purchase_seq
  FROM sold;

-- The server's purchase statement, copied from RecordIfAllFit (the statement
-- of record_if_all_fit in server/src/storage/tickets.rs): update this file
-- when that statement changes. One purchase of one ticket per transaction
-- (autocommit), run with -M prepared as the server runs it. The server makes
-- the purchase's id itself; here the database does (gen_random_uuid()).
--   pgbench -M prepared -D first=.. -D last=..: a random ticket among those ids
\set id random(:first, :last)
\set total 1
WITH sold AS (UPDATE tickets SET remaining = remaining - :total WHERE id = :id AND remaining >= :total RETURNING id)
INSERT INTO purchases (id, ticket_id, user_id, quantity)
SELECT bought.id, sold.id, bought.user_id, bought.quantity
FROM sold, unnest(ARRAY[gen_random_uuid()], ARRAY['406c1d05-bbb2-4e94-b183-7d208c2692e1'::uuid], ARRAY[:total::int4])
    AS bought (id, user_id, quantity);

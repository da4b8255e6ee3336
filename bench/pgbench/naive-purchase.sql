-- The naive purchase, one transaction per buyer: the baseline the server's
-- purchases are measured against. pgbench -D first=.. -D last=..
\set id random(:first, :last)
BEGIN;
UPDATE tickets SET remaining = remaining - 1 WHERE id = :id AND remaining >= 1;
INSERT INTO purchases (id, ticket_id, user_id, quantity)
    VALUES (gen_random_uuid(), :id, '406c1d05-bbb2-4e94-b183-7d208c2692e1', 1);
COMMIT;

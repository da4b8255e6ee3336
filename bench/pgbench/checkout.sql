-- The anchor for checkouts: a hold, then its confirmation, each the
-- cheapest statement that records it as the server does, in one autocommit
-- round trip. The hold is what the server's batch statement
-- (RecordWhereAllFit, server/src/storage/orders/fast.rs) does for a single
-- hold: the conditional decrement moving tickets to held, and the hold's
-- row. The confirmation ends a live hold and makes its purchase, numbered,
-- moving its tickets from held to sold, as the locked path's WriteBatch
-- (server/src/storage/orders/locked.rs) writes it, without first reading
-- what it decides from. Update this file when what a hold or a
-- confirmation writes changes. The database makes the ids here.
--   pgbench -M prepared -D first=.. -D last=..: a random ticket among those ids
\set id random(:first, :last)
WITH sold AS (
    UPDATE tickets SET remaining = remaining - 1, held = held + 1
     WHERE id = :id AND remaining >= 1
 RETURNING id)
INSERT INTO holds (id, ticket_id, user_id, quantity, expires_at)
SELECT gen_random_uuid(), sold.id, '406c1d05-bbb2-4e94-b183-7d208c2692e1', 1, now() + interval '900 seconds'
  FROM sold
RETURNING id AS hold \gset
WITH ended AS (
    UPDATE holds SET status = 'confirmed', ended_at = now(), purchase_id = gen_random_uuid()
     WHERE id = :hold AND status = 'held' AND expires_at > now()
 RETURNING id, ticket_id, user_id, quantity, purchase_id),
sold AS (
    UPDATE tickets t SET held = t.held - ended.quantity, last_purchase_seq = t.last_purchase_seq + 1
      FROM ended WHERE t.id = ended.ticket_id
 RETURNING t.id, t.last_purchase_seq)
INSERT INTO purchases (id, ticket_id, user_id, quantity, seq, hold_id)
SELECT ended.purchase_id, ended.ticket_id, ended.user_id, ended.quantity, sold.last_purchase_seq, ended.id
  FROM ended JOIN sold ON sold.id = ended.ticket_id;

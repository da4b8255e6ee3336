-- The anchor for GET /tickets/{id}: the server's read of a ticket (FindTickets,
-- server/src/storage/tickets.rs) for a single id, with the same columns and
-- the same sum of expired holds (skipped, as there, for a ticket holding
-- none): update this file when that read changes.
--   pgbench -M prepared -D first=.. -D last=..: a random ticket among those ids
\set id random(:first, :last)
SELECT t.id, t.name, t.description, t.allocation, t.remaining, t.held,
       t.max_per_purchase, t.max_per_user,
       CASE WHEN t.held = 0 THEN 0 ELSE
         (SELECT COALESCE(sum(h.quantity), 0)::integer FROM holds h
           WHERE h.ticket_id = t.id AND h.status = 'held' AND h.expires_at <= now())
       END
  FROM tickets t WHERE t.id = :id;

-- The anchor for GET /tickets/{id}: the server's read of a ticket (FindTickets,
-- server/src/storage/tickets.rs) for a single id, as a plain primary-key
-- SELECT of the same columns: update this file when that read changes.
--   pgbench -M prepared -D first=.. -D last=..: a random ticket among those ids
\set id random(:first, :last)
SELECT id, name, description, remaining FROM tickets WHERE id = :id;

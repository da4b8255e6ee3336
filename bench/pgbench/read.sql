-- The server's read of a ticket, copied from find_ticket in
-- server/src/storage/tickets.rs (diesel's .first() adds the LIMIT): update
-- this file when that query changes. Run with -M prepared, as the server
-- runs it.
--   pgbench -M prepared -D first=.. -D last=..: a random ticket among those ids
\set id random(:first, :last)
\set one 1
SELECT "tickets"."id", "tickets"."name", "tickets"."description", "tickets"."remaining"
FROM "tickets" WHERE ("tickets"."id" = :id) LIMIT :one;

-- A plain primary-key read of a ticket: the baseline for GET /tickets/{id}.
\set id random(:first, :last)
SELECT id, name, description, remaining FROM tickets WHERE id = :id;

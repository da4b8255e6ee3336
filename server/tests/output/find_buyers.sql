SELECT
  b.ticket_id,
  b.user_id,
  b.bought,
  b.held
FROM
  ticket_buyers b
  JOIN unnest($1, $2) AS w (ticket_id, user_id) ON (b.ticket_id, b.user_id) = (w.ticket_id, w.user_id)

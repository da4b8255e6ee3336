SELECT
  p.id,
  p.ticket_id,
  p.user_id,
  p.quantity,
  p.purchased_at,
  p.seq,
  p.hold_id,
  p.cancelled_at,
  b.bought,
  b.held
FROM
  purchases p
  LEFT JOIN ticket_buyers b ON (b.ticket_id, b.user_id) = (p.ticket_id, p.user_id)
WHERE
  p.id = ANY($1)

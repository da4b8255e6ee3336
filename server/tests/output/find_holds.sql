SELECT
  h.id,
  h.ticket_id,
  h.user_id,
  h.quantity,
  h.status,
  h.created_at,
  h.expires_at,
  h.purchase_id,
  b.bought,
  b.held
FROM
  holds h
  LEFT JOIN ticket_buyers b ON (b.ticket_id, b.user_id) = (h.ticket_id, h.user_id)
WHERE
  (
    h.status = 'held'
    AND h.ticket_id = ANY($1)
    AND h.expires_at <= $2
  )
  OR h.id = ANY($3)

SELECT
  t.id,
  t.name,
  t.description,
  t.allocation,
  t.remaining,
  t.held,
  t.max_per_purchase,
  t.max_per_user,
  CASE
    WHEN t.held = 0 THEN 0
    ELSE (
      SELECT
        COALESCE(sum(h.quantity), 0)::integer
      FROM
        holds h
      WHERE
        h.ticket_id = t.id
        AND h.status = 'held'
        AND h.expires_at <= clock_timestamp()
    )
  END
FROM
  tickets t
WHERE
  t.id = ANY($1)

SELECT
  id,
  seq,
  purchased_at
FROM
  purchases
WHERE
  id = ANY($1)

SELECT
  id,
  remaining,
  held,
  last_purchase_seq,
  max_per_purchase,
  max_per_user,
  clock_timestamp()
FROM
  (
    SELECT
      id,
      remaining,
      held,
      last_purchase_seq,
      max_per_purchase,
      max_per_user
    FROM
      tickets
    WHERE
      id = ANY($1)
    ORDER BY
      id
    FOR UPDATE
  ) AS locked

SELECT
  id,
  created_at,
  expires_at
FROM
  holds
WHERE
  id = ANY($1)

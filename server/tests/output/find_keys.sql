SELECT
  key,
  fingerprint,
  status,
  location,
  body
FROM
  idempotency_keys
WHERE
  key = ANY($1)
  AND created_at > $2

SELECT
  key
FROM
  unnest($1) AS k (key)
WHERE
  NOT pg_try_advisory_xact_lock(hashtextextended(key, 0))

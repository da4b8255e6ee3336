SELECT DISTINCT
  ticket_id
FROM
  holds
WHERE
  status = 'held'
  AND expires_at <= now()
LIMIT
  $1

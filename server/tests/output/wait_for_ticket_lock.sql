SELECT
  1
FROM
  tickets
WHERE
  id = $1
FOR SHARE

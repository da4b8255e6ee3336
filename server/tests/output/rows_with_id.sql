SELECT
  count(*)
FROM
  (
    SELECT
      id
    FROM
      purchases
    UNION ALL
    SELECT
      id
    FROM
      holds
  ) AS made
WHERE
  id = $1

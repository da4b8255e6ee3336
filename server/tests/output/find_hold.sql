SELECT
  "holds"."id",
  "holds"."ticket_id",
  "holds"."user_id",
  "holds"."quantity",
  "holds"."status",
  "holds"."created_at",
  "holds"."expires_at",
  "holds"."purchase_id",
  clock_timestamp()
FROM
  "holds"
WHERE
  (
    ("holds"."id" = $1)
    AND ("holds"."ticket_id" = $2)
  )
LIMIT
  $3

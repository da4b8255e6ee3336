SELECT
  "purchases"."id",
  "purchases"."ticket_id",
  "purchases"."user_id",
  "purchases"."quantity",
  "purchases"."purchased_at",
  "purchases"."seq",
  "purchases"."hold_id",
  "purchases"."cancelled_at"
FROM
  "purchases"
WHERE
  (
    (
      (
        ("purchases"."ticket_id" = $1)
        AND ("purchases"."seq" > $2)
      )
      AND ("purchases"."seq" <= $3)
    )
    AND ("purchases"."user_id" = $4)
  )
ORDER BY
  "purchases"."seq"
LIMIT
  $5

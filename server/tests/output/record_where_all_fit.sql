WITH
wanted AS (
  SELECT
    *
  FROM
    unnest(
      $1,
      $2,
      $3,
      $4,
      $5,
      $6,
      $7,
      $8,
      $9,
      $10,
      $11,
      $12
    ) AS w (
      ticket_id,
      id,
      user_id,
      quantity,
      lifetime,
      place,
      made_by,
      key,
      fingerprint,
      status,
      location,
      body
    )
),
totals AS (
  SELECT
    ticket_id,
    sum(quantity) AS total,
    max(quantity) AS largest,
    COALESCE(
      sum(quantity) FILTER (
        WHERE
          lifetime IS NOT NULL),
      0
    ) AS held,
    count(*) FILTER (
      WHERE
        lifetime IS NULL) AS made,
    bool_and(
      key IS NULL
      OR (
        (
          SELECT
            true
          FROM
            idempotency_keys k
          WHERE
            k.key = w.key
        ) IS NULL
        AND pg_try_advisory_xact_lock(hashtextextended(key, 0))
      )
    ) AS keys_free
  FROM
    wanted w
  GROUP BY
    ticket_id
),
locked AS (
  SELECT
    t.id
  FROM
    tickets t
    JOIN totals ON totals.ticket_id = t.id
  WHERE
    totals.keys_free
  ORDER BY
    t.id
  FOR UPDATE
    OF t
),
sold AS (
  UPDATE
    tickets t
  SET
    remaining = t.remaining - totals.total,
    held = t.held + totals.held,
    last_purchase_seq = t.last_purchase_seq + totals.made
  FROM
    totals,
    locked
  WHERE
    t.id = totals.ticket_id
    AND locked.id = t.id
    AND t.remaining >= totals.total
    AND (
      t.max_per_purchase IS NULL
      OR totals.largest <= t.max_per_purchase
    )
  RETURNING
    t.id,
    t.last_purchase_seq,
    totals.made,
    t.max_per_user,
    clock_timestamp() AS at
),
buyers AS (
  INSERT INTO
    ticket_buyers (ticket_id, user_id, bought, held, max_per_user)
  SELECT
    w.ticket_id,
    w.user_id,
    COALESCE(
      sum(w.quantity) FILTER (
        WHERE
          w.lifetime IS NULL),
      0
    ),
    COALESCE(
      sum(w.quantity) FILTER (
        WHERE
          w.lifetime IS NOT NULL),
      0
    ),
    sold.max_per_user
  FROM
    wanted w
    JOIN sold ON sold.id = w.ticket_id
  WHERE
    sold.max_per_user IS NOT NULL
  GROUP BY
    w.ticket_id,
    w.user_id,
    sold.max_per_user
  ON CONFLICT
    (ticket_id, user_id)
  DO UPDATE SET
    bought = ticket_buyers.bought + excluded.bought,
    held = ticket_buyers.held + excluded.held
),
made AS (
  INSERT INTO
    purchases (
      id,
      ticket_id,
      user_id,
      quantity,
      seq,
      purchased_at,
      made_by
    )
  SELECT
    w.id,
    w.ticket_id,
    w.user_id,
    w.quantity,
    sold.last_purchase_seq - sold.made + w.place,
    sold.at,
    w.made_by
  FROM
    wanted w
    JOIN sold ON sold.id = w.ticket_id
  WHERE
    w.lifetime IS NULL
),
kept AS (
  INSERT INTO
    holds (
      id,
      ticket_id,
      user_id,
      quantity,
      created_at,
      expires_at,
      made_by
    )
  SELECT
    w.id,
    w.ticket_id,
    w.user_id,
    w.quantity,
    sold.at,
    sold.at + make_interval(secs => w.lifetime),
    w.made_by
  FROM
    wanted w
    JOIN sold ON sold.id = w.ticket_id
  WHERE
    w.lifetime IS NOT NULL
),
answered AS (
  INSERT INTO
    idempotency_keys (key, fingerprint, status, location, body)
  SELECT
    w.key,
    w.fingerprint,
    w.status,
    w.location,
    replace (
      replace (
        replace (
          w.body,
          $13,
          (sold.last_purchase_seq - sold.made + w.place)::text
        ),
        $14,
        rfc3339_utc(sold.at)
      ),
      $15,
      COALESCE(
        rfc3339_utc(sold.at + make_interval(secs => w.lifetime)),
        ''
      )
    )
  FROM
    wanted w
    JOIN sold ON sold.id = w.ticket_id
  WHERE
    w.key IS NOT NULL
)
SELECT
  id,
  last_purchase_seq,
  made,
  at
FROM
  sold

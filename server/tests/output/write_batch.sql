WITH
clock AS (
  SELECT
    $1::timestamptz AS at),
tickets_now AS (
  UPDATE
    tickets t
  SET
    remaining = d.remaining,
    held = d.held,
    last_purchase_seq = d.last_seq
  FROM
    unnest($2, $3, $4, $5) AS d (id, remaining, held, last_seq)
  WHERE
    t.id = d.id
),
buyers_now AS (
  UPDATE
    ticket_buyers b
  SET
    bought = d.bought,
    held = d.held
  FROM
    unnest($6, $7, $8, $9) AS d (ticket_id, user_id, bought, held)
  WHERE
    (b.ticket_id, b.user_id) = (d.ticket_id, d.user_id)
),
new_buyers AS (
  INSERT INTO
    ticket_buyers (ticket_id, user_id, bought, held, max_per_user)
  SELECT
    *
  FROM
    unnest($10, $11, $12, $13, $14)
),
made AS (
  INSERT INTO
    purchases (
      id,
      ticket_id,
      user_id,
      quantity,
      seq,
      hold_id,
      made_by,
      purchased_at
    )
  SELECT
    p.*,
    clock.at
  FROM
    clock,
    unnest($15, $16, $17, $18, $19, $20, $21) AS p
),
cancelled AS (
  UPDATE
    purchases p
  SET
    cancelled_at = clock.at,
    cancelled_by = d.who
  FROM
    clock,
    unnest($22, $23) AS d (id, who)
  WHERE
    p.id = d.id
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
      status,
      ended_at,
      purchase_id,
      made_by,
      ended_by
    )
  SELECT
    id,
    ticket_id,
    user_id,
    quantity,
    clock.at,
    expires_at,
    status,
    CASE
      WHEN status = 'held' THEN NULL
      ELSE clock.at
    END,
    purchase,
    made_by,
    ended_by
  FROM
    clock,
    unnest($24, $25, $26, $27, $28, $29, $30, $31, $32) AS h (
      id,
      ticket_id,
      user_id,
      quantity,
      expires_at,
      status,
      purchase,
      made_by,
      ended_by
    )
),
ended AS (
  UPDATE
    holds h
  SET
    status = d.status,
    ended_at = clock.at,
    purchase_id = d.purchase,
    ended_by = d.who
  FROM
    clock,
    unnest($33, $34, $35, $36) AS d (id, status, purchase, who)
  WHERE
    h.id = d.id
)
INSERT INTO
  idempotency_keys (key, fingerprint, status, location, body)
SELECT
  *
FROM
  unnest($37, $38, $39, $40, $41)
ON CONFLICT
  (key)
DO UPDATE SET
  fingerprint = excluded.fingerprint,
  status = excluded.status,
  location = excluded.location,
  body = excluded.body,
  created_at = now()

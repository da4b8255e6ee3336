-- A time as the server writes it in JSON (RFC 3339 in UTC, with as many
-- fractional digits as it needs: none, 3 or 6), so that an answer stored
-- by a statement reads exactly as the server would have written it. The
-- batch statement that records keyed purchases and holds fills their
-- stored answers' times with it.
CREATE FUNCTION rfc3339_utc(t TIMESTAMPTZ) RETURNS TEXT
LANGUAGE sql STABLE STRICT PARALLEL SAFE
RETURN to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
    || CASE
           WHEN extract(microseconds FROM t)::bigint % 1000000 = 0 THEN ''
           WHEN extract(microseconds FROM t)::bigint % 1000 = 0
               THEN '.' || lpad((extract(microseconds FROM t)::bigint % 1000000 / 1000)::text, 3, '0')
           ELSE '.' || lpad((extract(microseconds FROM t)::bigint % 1000000)::text, 6, '0')
       END
    || 'Z';

//! The hot statements keep to their indexes: each is planned, as the server
//! sends it (its SQL read from `tests/output/`, which the crate's
//! `golden_sql` tests hold to the code), on a database seeded with enough
//! rows that a scan of a whole table would show, and its plan must use the
//! index named. Statements the server keeps prepared are planned as the
//! generic plan a prepared statement settles on.

use diesel::sql_types::Text;
use diesel_async::{AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};

use crate::helpers::{TestApp, TestDatabase};

const SEED: &str = "
INSERT INTO tickets (name, description, allocation, remaining, held, last_purchase_seq)
SELECT 'event ' || i, '', 100, 88, 2, 10 FROM generate_series(1, 10000) AS i;
INSERT INTO purchases (id, ticket_id, user_id, quantity, seq)
SELECT gen_random_uuid(), t, gen_random_uuid(), 1, s
  FROM generate_series(1, 10000) AS t, generate_series(1, 5) AS s;
INSERT INTO holds (id, ticket_id, user_id, quantity, expires_at, status, ended_at)
SELECT gen_random_uuid(), t, gen_random_uuid(), 1, now() - interval '1 hour', 'expired', now()
  FROM generate_series(1, 10000) AS t, generate_series(1, 3) AS s;
INSERT INTO holds (id, ticket_id, user_id, quantity, expires_at)
SELECT gen_random_uuid(), t * 50, gen_random_uuid(), 2, now() + (t % 7 - 3) * interval '1 minute'
  FROM generate_series(1, 200) AS t;
INSERT INTO idempotency_keys (key, fingerprint, status, body)
SELECT 'key-' || i, md5(i::text), 201, '{}' FROM generate_series(1, 50000) AS i;
INSERT INTO ticket_buyers (ticket_id, user_id, bought, held, max_per_user)
SELECT t, gen_random_uuid(), 1, 0, 4 FROM generate_series(1, 10000) AS t, generate_series(1, 2) AS s;
ANALYZE;
CREATE FUNCTION plan_of(statement text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    line text;
    plan text := '';
BEGIN
    FOR line IN EXECUTE 'EXPLAIN ' || statement LOOP
        plan := plan || line || E'\\n';
    END LOOP;
    RETURN plan;
END
$$;
";

/// The plan of `name`'s SQL (from `tests/output/`), prepared with
/// `parameters` and run with `arguments`; a statement the server keeps
/// prepared is planned generically (`generic`).
async fn plan(
    conn: &mut AsyncPgConnection,
    name: &str,
    parameters: &str,
    arguments: &str,
    generic: bool,
) -> String {
    let path = format!("tests/output/{name}.sql");
    let sql = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mode = if generic {
        "force_generic_plan"
    } else {
        "auto"
    };
    let prepare = format!("SET plan_cache_mode = {mode}; PREPARE {name} ({parameters}) AS {sql}");
    conn.batch_execute(&prepare)
        .await
        .unwrap_or_else(|e| panic!("{prepare}: {e}"));
    let execute = format!("EXECUTE {name} ({arguments})").replace('\'', "''");
    diesel::select(diesel::dsl::sql::<Text>(&format!("plan_of('{execute}')")))
        .get_result(conn)
        .await
        .unwrap_or_else(|e| panic!("planning {name}: {e}"))
}

/// A hot statement: its file in `tests/output/`, its parameters' types,
/// arguments to plan it for, whether the server keeps it prepared, and
/// the indexes its plan must use.
struct Hot {
    name: &'static str,
    parameters: &'static str,
    arguments: &'static str,
    prepared: bool,
    indexes: &'static [&'static str],
}

const HOT: &[Hot] = &[
    Hot {
        name: "lock_tickets",
        parameters: "bigint[]",
        arguments: "ARRAY[7, 8, 9]",
        prepared: true,
        indexes: &["tickets_pkey"],
    },
    Hot {
        name: "find_keys",
        parameters: "text[], timestamptz",
        arguments: "ARRAY['key-7', 'key-8'], now() - interval '1 day'",
        prepared: false,
        indexes: &["idempotency_keys_pkey"],
    },
    Hot {
        name: "purchases_page",
        parameters: "bigint, bigint, bigint",
        arguments: "7, 3, 51",
        prepared: true,
        indexes: &["purchases_ticket_id_seq_key"],
    },
    Hot {
        name: "find_holds",
        parameters: "bigint[], timestamptz, uuid[]",
        arguments: "ARRAY[50, 100], now(), ARRAY[gen_random_uuid()]",
        prepared: true,
        indexes: &["holds_held_idx", "holds_pkey"],
    },
    Hot {
        name: "find_tickets",
        parameters: "bigint[]",
        arguments: "ARRAY[50, 51]",
        prepared: true,
        indexes: &["tickets_pkey", "holds_held_idx"],
    },
    Hot {
        name: "tickets_with_expired_holds",
        parameters: "integer",
        arguments: "100",
        prepared: true,
        indexes: &["holds_held_idx"],
    },
    Hot {
        name: "record_where_all_fit",
        parameters: "bigint[], uuid[], uuid[], integer[], integer[], integer[], text[], text[], \
                     text[], smallint[], text[], text[], text, text, text",
        arguments: "ARRAY[7, 8], ARRAY[gen_random_uuid(), gen_random_uuid()], \
                    ARRAY[gen_random_uuid(), gen_random_uuid()], ARRAY[1, 2], ARRAY[NULL, 60]::integer[], \
                    ARRAY[1, 0], ARRAY['buyer:a', 'buyer:b'], ARRAY['new-1', 'new-2'], ARRAY['f', 'f'], \
                    ARRAY[201, 201]::smallint[], ARRAY[NULL, NULL]::text[], ARRAY['{}', '{}'], \
                    's', 'a', 'e'",
        prepared: true,
        indexes: &["tickets_pkey", "idempotency_keys_pkey"],
    },
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_hot_statement_uses_its_index() {
    let db = TestDatabase::create().await;
    // The server migrates the database.
    TestApp::start(&db).await.stop().await;
    let mut conn = db.connect().await;
    conn.batch_execute(SEED).await.expect("seeding");

    for hot in HOT {
        let plan = plan(
            &mut conn,
            hot.name,
            hot.parameters,
            hot.arguments,
            hot.prepared,
        )
        .await;
        for index in hot.indexes {
            assert!(
                plan.contains(index),
                "{} does not use {index}:\n{plan}",
                hot.name
            );
        }
        for table in [
            "tickets",
            "purchases",
            "holds",
            "idempotency_keys",
            "ticket_buyers",
        ] {
            assert!(
                !plan.contains(&format!("Seq Scan on {table} ")),
                "{} scans all of {table}:\n{plan}",
                hot.name
            );
        }
    }
}

//! The SQL of the statements on the hot paths, as sent, checked against
//! `server/tests/output/*.sql` on every test run (as omicron's db-queries
//! keeps its queries), so that a change to a statement shows in review as a
//! change to its SQL. After a deliberate change, regenerate the files with
//!
//! ```text
//! EXPECTORATE=overwrite cargo nextest run --release -p tickets-server -E 'test(/golden_sql/)'
//! ```
//!
//! and commit them with it. The files are SQL only (bind parameters are
//! `$1`, `$2`, ...), laid out by `sqlformat`; the API tests' `explain`
//! module plans them on a seeded database.

use diesel::pg::{Pg, PgQueryBuilder};
use diesel::query_builder::{QueryBuilder, QueryFragment};

use super::{fast, locked};
use crate::storage::{holds, purchases, tickets};

/// `statement`'s SQL, laid out one clause to a line.
fn rendered(statement: &impl QueryFragment<Pg>) -> String {
    let mut sql = PgQueryBuilder::new();
    statement.to_sql(&mut sql, &Pg).expect("renders");
    let options = sqlformat::FormatOptions {
        lines_between_queries: 1,
        ..sqlformat::FormatOptions::default()
    };
    let mut text = sqlformat::format(&sql.finish(), &sqlformat::QueryParams::None, &options);
    text.push('\n');
    text
}

fn assert_sql(name: &str, statement: &impl QueryFragment<Pg>) {
    expectorate::assert_contents(format!("tests/output/{name}.sql"), &rendered(statement));
}

#[test]
fn golden_sql_of_the_one_statement_order() {
    assert_sql("record_where_all_fit", &fast::RecordWhereAllFit::default());
    assert_sql("find_made_purchases", &fast::FindPurchases::default());
    assert_sql("find_made_holds", &fast::FindHolds::default());
}

#[test]
fn golden_sql_of_the_locked_batch() {
    assert_sql("lock_tickets", &locked::LockTickets::default());
    assert_sql("try_lock_keys", &locked::TryLockKeys::default());
    assert_sql("find_keys", &locked::FindKeys::default());
    assert_sql("find_holds", &locked::FindHolds::default());
    assert_sql("find_purchases", &locked::FindPurchases::default());
    assert_sql("find_buyers", &locked::FindBuyers::default());
    assert_sql("rows_with_id", &locked::RowsWithId::default());
    assert_sql("write_batch", &locked::WriteBatch::default());
}

#[test]
fn golden_sql_of_the_reads() {
    assert_sql("find_tickets", &tickets::FindTickets::default());
    assert_sql("find_hold", &holds::find_hold_query(uuid::Uuid::nil(), 1));
    assert_sql("wait_for_ticket_lock", &holds::WaitForTicketLock::default());
    assert_sql(
        "tickets_with_expired_holds",
        &holds::TicketsWithExpiredHolds::default(),
    );
    assert_sql(
        "purchases_page",
        &purchases::page_query(1, 0, None, 51, None),
    );
    assert_sql(
        "buyers_purchases_page",
        &purchases::page_query(
            1,
            0,
            Some(purchases::BUYER_PAGE_SCAN),
            51,
            Some(uuid::Uuid::nil()),
        ),
    );
}

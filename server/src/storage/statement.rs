//! Statements written as SQL, each a type of its own with a static query id,
//! so that a connection prepares it once and reuses the plan: planning the
//! batch statements anew each time cost the database more than running them.

/// Defines a statement type: its bind parameters (field, Rust type and SQL
/// type) interleaved with its SQL text, and the SQL types of the rows it
/// returns, if any.
///
/// A statement marked `#[planned_each_time]` is not kept prepared: PostgreSQL
/// plans it for the values it gets. For a lookup in a table that starts
/// empty and grows (idempotency keys), a plan kept from when the table was
/// small scans the whole table long after an index lookup is due.
///
/// ```ignore
/// statement! {
///     /// Doc.
///     FindTicket -> (Int8, Text) {
///         "SELECT id, name FROM tickets WHERE id = " id: i64 as Int8, ""
///     }
/// }
/// ```
macro_rules! statement {
    (
        #[planned_each_time]
        $(#[$attr:meta])*
        $name:ident $(-> $rows:ty)? {
            $head:literal
            $( $field:ident: $rust:ty as $sql_type:ty, $tail:literal )*
        }
    ) => {
        statement!(@define true, $(#[$attr])* $name $(-> $rows)? { $head $($field: $rust as $sql_type, $tail)* });
    };
    (
        $(#[$attr:meta])*
        $name:ident $(-> $rows:ty)? {
            $head:literal
            $( $field:ident: $rust:ty as $sql_type:ty, $tail:literal )*
        }
    ) => {
        statement!(@define false, $(#[$attr])* $name $(-> $rows)? { $head $($field: $rust as $sql_type, $tail)* });
    };
    (
        @define $planned_each_time:literal,
        $(#[$attr:meta])*
        $name:ident $(-> $rows:ty)? {
            $head:literal
            $( $field:ident: $rust:ty as $sql_type:ty, $tail:literal )*
        }
    ) => {
        $(#[$attr])*
        #[derive(Debug, Default, diesel::query_builder::QueryId)]
        pub(super) struct $name {
            $(pub(super) $field: $rust,)*
        }

        $(
            impl diesel::query_builder::Query for $name {
                type SqlType = $rows;
            }
        )?

        impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for $name {
            fn walk_ast<'b>(
                &'b self,
                #[allow(unused_mut)] mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
            ) -> diesel::QueryResult<()> {
                if $planned_each_time {
                    out.unsafe_to_cache_prepared();
                }
                out.push_sql($head);
                $(
                    out.push_bind_param::<$sql_type, _>(&self.$field)?;
                    out.push_sql($tail);
                )*
                Ok(())
            }
        }
    };
}

pub(super) use statement;

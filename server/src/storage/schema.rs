//! The tables as diesel sees them; `migrations/` is the source of truth.

diesel::table! {
    tickets (id) {
        id -> Int8,
        name -> Text,
        description -> Text,
        allocation -> Int4,
        remaining -> Int4,
        created_at -> Timestamptz,
        last_purchase_seq -> Int8,
    }
}

diesel::table! {
    purchases (id) {
        id -> Uuid,
        ticket_id -> Int8,
        user_id -> Uuid,
        quantity -> Int4,
        purchased_at -> Timestamptz,
        seq -> Int8,
    }
}

diesel::table! {
    idempotency_keys (key) {
        key -> Text,
        fingerprint -> Text,
        status -> Int2,
        location -> Nullable<Text>,
        body -> Nullable<Text>,
        created_at -> Timestamptz,
    }
}

diesel::joinable!(purchases -> tickets (ticket_id));
diesel::allow_tables_to_appear_in_same_query!(tickets, purchases, idempotency_keys);

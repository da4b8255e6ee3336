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
        held -> Int4,
        max_per_purchase -> Nullable<Int4>,
        max_per_user -> Nullable<Int4>,
        organiser_id -> Nullable<Int8>,
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
        hold_id -> Nullable<Uuid>,
        cancelled_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    holds (id) {
        id -> Uuid,
        ticket_id -> Int8,
        user_id -> Uuid,
        quantity -> Int4,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        status -> Text,
        ended_at -> Nullable<Timestamptz>,
        purchase_id -> Nullable<Uuid>,
    }
}

diesel::table! {
    ticket_buyers (ticket_id, user_id) {
        ticket_id -> Int8,
        user_id -> Uuid,
        bought -> Int4,
        held -> Int4,
        max_per_user -> Int4,
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

diesel::table! {
    organisers (id) {
        id -> Int8,
        name -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    organiser_tokens (id) {
        id -> Int8,
        organiser_id -> Int8,
        secret_hash -> Bytea,
        can_create_tickets -> Bool,
        can_read_orders -> Bool,
        can_change_orders -> Bool,
        can_sell_for_buyer -> Bool,
        ticket_ids -> Nullable<Array<Int8>>,
        created_at -> Timestamptz,
        revoked_at -> Nullable<Timestamptz>,
        can_read_metrics -> Bool,
    }
}

diesel::joinable!(purchases -> tickets (ticket_id));
diesel::joinable!(organiser_tokens -> organisers (organiser_id));
diesel::joinable!(tickets -> organisers (organiser_id));
diesel::joinable!(holds -> tickets (ticket_id));
diesel::allow_tables_to_appear_in_same_query!(
    tickets,
    purchases,
    holds,
    ticket_buyers,
    idempotency_keys,
    organisers,
    organiser_tokens
);

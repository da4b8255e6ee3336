ALTER TABLE organiser_tokens
    DROP CONSTRAINT organiser_tokens_some_permission,
    DROP COLUMN can_read_metrics,
    ADD CONSTRAINT organiser_tokens_check CHECK (
        can_create_tickets OR can_read_orders OR can_change_orders OR can_sell_for_buyer
    );

ALTER TABLE tickets DROP COLUMN organiser_id;

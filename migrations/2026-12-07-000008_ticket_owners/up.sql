-- A ticket belongs to the organiser whose token created it (NULL for one
-- created with AUTH_MODE=open, which no organiser token can act on), and
-- tokens may be allowed to read the metrics (docs/AUTH.md).

ALTER TABLE tickets ADD COLUMN organiser_id BIGINT REFERENCES organisers (id);

ALTER TABLE organiser_tokens
    ADD COLUMN can_read_metrics BOOLEAN NOT NULL DEFAULT false,
    DROP CONSTRAINT organiser_tokens_check,
    ADD CONSTRAINT organiser_tokens_some_permission CHECK (
        can_create_tickets OR can_read_orders OR can_change_orders
        OR can_sell_for_buyer OR can_read_metrics
    );

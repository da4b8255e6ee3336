DROP TRIGGER tickets_are_never_deleted ON tickets;
DROP TRIGGER ticket_buyers_keep_their_ticket ON ticket_buyers;
DROP TRIGGER ticket_buyers_name_a_ticket ON ticket_buyers;
ALTER TABLE ticket_buyers ADD CONSTRAINT ticket_buyers_ticket_id_fkey
    FOREIGN KEY (ticket_id) REFERENCES tickets (id);
DROP TRIGGER holds_keep_their_ticket ON holds;
DROP TRIGGER holds_name_a_ticket ON holds;
ALTER TABLE holds ADD CONSTRAINT holds_ticket_id_fkey
    FOREIGN KEY (ticket_id) REFERENCES tickets (id);
DROP TRIGGER purchases_keep_their_ticket ON purchases;
DROP TRIGGER purchases_name_a_ticket ON purchases;
ALTER TABLE purchases ADD CONSTRAINT purchases_ticket_id_fkey
    FOREIGN KEY (ticket_id) REFERENCES tickets (id);
DROP FUNCTION refuse_change();
DROP FUNCTION refuse_rows_without_a_ticket();

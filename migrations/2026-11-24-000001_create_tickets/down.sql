DROP TABLE purchases;
DROP TABLE tickets;

ALTER TABLE holds DROP COLUMN ended_by, DROP COLUMN made_by;
ALTER TABLE purchases DROP COLUMN cancelled_by, DROP COLUMN made_by;
ALTER TABLE tickets DROP COLUMN created_by;

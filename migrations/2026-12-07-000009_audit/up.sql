-- Who made each change (docs/AUTH.md): a buyer as `buyer:<subject>`, an
-- organiser token as `organiser-token:<id>`, `open` with AUTH_MODE=open,
-- `server` for holds the server ended when they expired. NULL on rows made
-- before this migration.

ALTER TABLE tickets ADD COLUMN created_by TEXT;
ALTER TABLE purchases ADD COLUMN made_by TEXT, ADD COLUMN cancelled_by TEXT;
ALTER TABLE holds ADD COLUMN made_by TEXT, ADD COLUMN ended_by TEXT;

-- Facts about the database itself, such as the key check that makes a wrong
-- encryption key stop start-up rather than fail every request.
CREATE TABLE orderhook_meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);

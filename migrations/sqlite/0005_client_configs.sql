-- Per-client overrides, as on Postgres.
CREATE TABLE client_configs (
  client_id TEXT PRIMARY KEY,
  config TEXT NOT NULL,
  updated_at INTEGER NOT NULL
);

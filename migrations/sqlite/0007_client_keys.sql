-- Client-scoped API keys, hashed, as on Postgres.
CREATE TABLE client_keys (
  id TEXT PRIMARY KEY,
  client_id TEXT NOT NULL,
  key_sha256 BLOB NOT NULL UNIQUE,
  created_at INTEGER NOT NULL,
  revoked_at INTEGER
);
CREATE INDEX idx_client_keys_client ON client_keys (client_id);

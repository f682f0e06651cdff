-- Client-scoped API keys. Only a SHA-256 of each key is kept: the keys are
-- 256 random bits, so the hash is as good as the key for lookup and useless
-- to whoever reads this table.
CREATE TABLE client_keys (
  id UUID PRIMARY KEY,
  client_id VARCHAR(255) NOT NULL,
  key_sha256 BYTEA NOT NULL UNIQUE,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  revoked_at TIMESTAMPTZ
);
CREATE INDEX idx_client_keys_client ON client_keys (client_id);

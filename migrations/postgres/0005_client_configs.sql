-- Per-client overrides of the server's defaults (retry policy, rate limits,
-- IP allowlist, signature validation), as JSON: only what the client changed.
CREATE TABLE client_configs (
  client_id VARCHAR(255) PRIMARY KEY,
  config TEXT NOT NULL,
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

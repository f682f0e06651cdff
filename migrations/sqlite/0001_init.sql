-- The embedded store's schema: the Postgres tables in SQLite's types.
-- Timestamps are unix microseconds; uuids and arrays are text.
CREATE TABLE webhooks (
  id TEXT PRIMARY KEY,
  client_id TEXT NOT NULL,
  provider TEXT NOT NULL,
  url TEXT NOT NULL,
  events TEXT NOT NULL,
  secret_key TEXT NOT NULL,
  is_active INTEGER NOT NULL DEFAULT 1,
  last_seq INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  UNIQUE (client_id, provider)
);

CREATE TABLE webhook_logs (
  id TEXT PRIMARY KEY,
  webhook_id TEXT REFERENCES webhooks(id),
  provider TEXT NOT NULL,
  client_id TEXT NOT NULL,
  event_type TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN
    ('pending', 'delivered', 'retrying', 'failed', 'ignored', 'rejected', 'rate_limited')),
  seq INTEGER,
  response_time INTEGER,
  payload TEXT,
  response TEXT,
  error_message TEXT,
  created_at INTEGER NOT NULL
);

CREATE TABLE webhook_retry_queue (
  id TEXT PRIMARY KEY,
  webhook_log_id TEXT NOT NULL REFERENCES webhook_logs(id),
  retry_count INTEGER NOT NULL DEFAULT 0,
  max_retries INTEGER NOT NULL DEFAULT 3,
  next_retry_at INTEGER,
  priority TEXT NOT NULL DEFAULT 'medium',
  created_at INTEGER NOT NULL
);

CREATE TABLE webhook_attempts (
  id TEXT PRIMARY KEY,
  webhook_log_id TEXT NOT NULL REFERENCES webhook_logs(id),
  attempt INTEGER NOT NULL,
  status_code INTEGER,
  response_time INTEGER,
  response_body TEXT,
  error_message TEXT,
  created_at INTEGER NOT NULL,
  UNIQUE (webhook_log_id, attempt)
);

CREATE INDEX idx_webhook_logs_provider_client ON webhook_logs(provider, client_id);
CREATE INDEX idx_webhook_logs_status ON webhook_logs(status);
CREATE INDEX idx_webhook_logs_created_at ON webhook_logs(created_at);
CREATE INDEX idx_webhook_retry_queue_next_retry ON webhook_retry_queue(next_retry_at);
CREATE UNIQUE INDEX idx_webhook_logs_tenant_seq ON webhook_logs(client_id, provider, seq)
  WHERE seq IS NOT NULL;

-- Delivery state on the event row, as on Postgres.
DROP TABLE webhook_retry_queue;
ALTER TABLE webhook_logs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE webhook_logs ADD COLUMN round_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE webhook_logs ADD COLUMN next_retry_at INTEGER;
ALTER TABLE webhook_logs ADD COLUMN delivered_at INTEGER;
CREATE INDEX idx_webhook_logs_undelivered ON webhook_logs (client_id, provider, seq)
  WHERE status IN ('pending', 'retrying');

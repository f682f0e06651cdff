-- Duplicate suppression, as on Postgres.
ALTER TABLE webhook_logs ADD COLUMN body_sha256 BLOB;
CREATE INDEX idx_webhook_logs_body ON webhook_logs (body_sha256)
  WHERE body_sha256 IS NOT NULL;

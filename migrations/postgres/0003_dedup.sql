-- Duplicate suppression: the SHA-256 of an accepted request's raw body, so a
-- provider's retry of the same request is recognised for the dedup window,
-- across restarts and instances.
ALTER TABLE webhook_logs ADD COLUMN body_sha256 BYTEA;
CREATE INDEX idx_webhook_logs_tenant_body ON webhook_logs (client_id, provider, body_sha256)
  WHERE body_sha256 IS NOT NULL;

-- Duplicate suppression: the SHA-256 of an accepted request's raw body, so a
-- provider's retry of the same request is recognised for the dedup window,
-- across restarts and instances. Indexed by the hash alone: it is nearly
-- unique, and a lookup by it cannot be mistaken for a tenant scan.
ALTER TABLE webhook_logs ADD COLUMN body_sha256 BYTEA;
CREATE INDEX idx_webhook_logs_body ON webhook_logs (body_sha256)
  WHERE body_sha256 IS NOT NULL;

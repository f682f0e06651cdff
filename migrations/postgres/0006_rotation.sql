-- Secret rotation without downtime: the secret a rotation replaced keeps
-- verifying (and co-signing deliveries) until it expires. Sealed like the current one.
ALTER TABLE webhooks
  ADD COLUMN previous_secret_key TEXT,
  ADD COLUMN previous_secret_expires_at TIMESTAMPTZ;

-- Secret rotation, as on Postgres.
ALTER TABLE webhooks ADD COLUMN previous_secret_key TEXT;
ALTER TABLE webhooks ADD COLUMN previous_secret_expires_at INTEGER;

-- Delivery state lives on the event row itself: one partial index finds a
-- tenant's undelivered events in order, and recording an attempt is one
-- update. The seed's separate retry-queue table would double those writes,
-- so it goes.
DROP TABLE webhook_retry_queue;

ALTER TABLE webhook_logs
  -- Attempts made in all (numbers webhook_attempts rows).
  ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0,
  -- Attempts in the current round; a manual retry starts a new round.
  ADD COLUMN round_attempts INTEGER NOT NULL DEFAULT 0,
  ADD COLUMN next_retry_at TIMESTAMPTZ,
  ADD COLUMN delivered_at TIMESTAMPTZ;

CREATE INDEX idx_webhook_logs_undelivered ON webhook_logs (client_id, provider, seq)
  WHERE status IN ('pending', 'retrying');

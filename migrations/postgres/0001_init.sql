-- Registrations: one row per tenant (client_id, provider).
CREATE TABLE webhooks (
  id UUID PRIMARY KEY,
  client_id VARCHAR(255) NOT NULL,
  provider VARCHAR(50) NOT NULL,
  url TEXT NOT NULL,
  events TEXT[] NOT NULL,
  secret_key TEXT NOT NULL,
  is_active BOOLEAN NOT NULL DEFAULT true,
  -- The tenant's last assigned sequence number. Bumped inside each batch
  -- transaction under this row's lock, so numbers are gap-free and follow
  -- commit order even with several instances writing.
  last_seq BIGINT NOT NULL DEFAULT 0,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  CONSTRAINT webhooks_tenant_key UNIQUE (client_id, provider)
);

-- Events: every inbound request worth keeping. id is the eventId.
CREATE TABLE webhook_logs (
  id UUID PRIMARY KEY,
  webhook_id UUID REFERENCES webhooks(id),
  provider VARCHAR(50) NOT NULL,
  client_id VARCHAR(255) NOT NULL,
  event_type VARCHAR(100) NOT NULL,
  status VARCHAR(20) NOT NULL CHECK (status IN
    ('pending', 'delivered', 'retrying', 'failed', 'ignored', 'rejected', 'rate_limited')),
  -- Per-tenant order; NULL for rejected and rate-limited rows.
  seq BIGINT,
  response_time INTEGER,
  -- The body byte for byte as the provider sent it (so signatures can be
  -- re-checked and no JSON the provider sent can be refused by the store);
  -- truncated for rejected rows.
  payload TEXT,
  response JSONB,
  error_message TEXT,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Delivery bookkeeping, one row per waiting event.
CREATE TABLE webhook_retry_queue (
  id UUID PRIMARY KEY,
  webhook_log_id UUID NOT NULL REFERENCES webhook_logs(id),
  retry_count INTEGER NOT NULL DEFAULT 0,
  max_retries INTEGER NOT NULL DEFAULT 3,
  next_retry_at TIMESTAMPTZ,
  priority VARCHAR(20) NOT NULL DEFAULT 'medium',
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- One row per try at delivering an event to the client's URL.
CREATE TABLE webhook_attempts (
  id UUID PRIMARY KEY,
  webhook_log_id UUID NOT NULL REFERENCES webhook_logs(id),
  attempt INTEGER NOT NULL,
  status_code INTEGER,
  response_time INTEGER,
  response_body TEXT,
  error_message TEXT,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  CONSTRAINT webhook_attempts_event_attempt UNIQUE (webhook_log_id, attempt)
);

-- The seed's indexes.
CREATE INDEX idx_webhook_logs_provider_client ON webhook_logs(provider, client_id);
CREATE INDEX idx_webhook_logs_status ON webhook_logs(status);
CREATE INDEX idx_webhook_logs_created_at ON webhook_logs(created_at);
CREATE INDEX idx_webhook_retry_queue_next_retry ON webhook_retry_queue(next_retry_at);
-- A tenant's events in order; also enforces that sequence numbers are unique.
CREATE UNIQUE INDEX idx_webhook_logs_tenant_seq ON webhook_logs(client_id, provider, seq)
  WHERE seq IS NOT NULL;

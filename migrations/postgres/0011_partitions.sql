-- webhook_logs and webhook_attempts become range-partitioned by event id.
-- Event ids are UUID v7, whose leading 48 bits are the creation time in
-- milliseconds, so a range of ids is a range of time, and the primary key
-- keeps working as it is. A day's partition (and its attempts, partitioned
-- by the same ids) is dropped whole by the retention job: no long DELETE, no
-- bloat. The server creates partitions ahead of time (retention.* settings).
--
-- The existing tables become the first partitions (attached, not copied;
-- attaching scans them once to check their range). Attempts no longer
-- reference logs by foreign key: a partition of each is dropped together.

ALTER TABLE webhook_attempts DROP CONSTRAINT webhook_attempts_webhook_log_id_fkey;
ALTER TABLE webhook_logs RENAME TO webhook_logs_legacy;
ALTER TABLE webhook_attempts RENAME TO webhook_attempts_legacy;
ALTER INDEX webhook_logs_pkey RENAME TO webhook_logs_legacy_pkey;
ALTER INDEX webhook_attempts_event_attempt RENAME TO webhook_attempts_legacy_event_attempt;
ALTER INDEX idx_webhook_logs_created_at RENAME TO idx_webhook_logs_legacy_created_at;
ALTER INDEX idx_webhook_logs_tenant_seq RENAME TO idx_webhook_logs_legacy_tenant_seq;
ALTER INDEX idx_webhook_logs_undelivered RENAME TO idx_webhook_logs_legacy_undelivered;
ALTER INDEX idx_webhook_logs_body RENAME TO idx_webhook_logs_legacy_body;
ALTER INDEX idx_webhook_logs_tenant_recent RENAME TO idx_webhook_logs_legacy_tenant_recent;
ALTER INDEX idx_webhook_logs_status_recent RENAME TO idx_webhook_logs_legacy_status_recent;
-- A partitioned table's primary key must include the partition key.
ALTER TABLE webhook_attempts_legacy DROP CONSTRAINT webhook_attempts_pkey;
ALTER TABLE webhook_attempts_legacy
  ADD CONSTRAINT webhook_attempts_legacy_pkey PRIMARY KEY (webhook_log_id, id);

CREATE TABLE webhook_logs (LIKE webhook_logs_legacy INCLUDING DEFAULTS INCLUDING CONSTRAINTS)
  PARTITION BY RANGE (id);
ALTER TABLE webhook_logs ADD CONSTRAINT webhook_logs_pkey PRIMARY KEY (id);
ALTER TABLE webhook_logs ADD CONSTRAINT webhook_logs_webhook_id_fkey
  FOREIGN KEY (webhook_id) REFERENCES webhooks(id);
CREATE INDEX idx_webhook_logs_created_at ON webhook_logs (created_at);
-- Unique per partition only (a global unique index would need the id in it);
-- sequence numbers are unique because they are assigned under the tenant's row lock.
CREATE INDEX idx_webhook_logs_tenant_seq ON webhook_logs (client_id, provider, seq)
  WHERE seq IS NOT NULL;
CREATE INDEX idx_webhook_logs_undelivered ON webhook_logs (client_id, provider, seq)
  WHERE status IN ('pending', 'retrying');
CREATE INDEX idx_webhook_logs_body ON webhook_logs (body_sha256) WHERE body_sha256 IS NOT NULL;
CREATE INDEX idx_webhook_logs_tenant_recent ON webhook_logs (client_id, provider, created_at DESC);
CREATE INDEX idx_webhook_logs_status_recent ON webhook_logs (status, created_at DESC);

CREATE TABLE webhook_attempts (LIKE webhook_attempts_legacy INCLUDING DEFAULTS INCLUDING CONSTRAINTS)
  PARTITION BY RANGE (webhook_log_id);
ALTER TABLE webhook_attempts ADD CONSTRAINT webhook_attempts_pkey PRIMARY KEY (webhook_log_id, id);
ALTER TABLE webhook_attempts ADD CONSTRAINT webhook_attempts_event_attempt
  UNIQUE (webhook_log_id, attempt);

-- The old rows' range ends tomorrow (UTC), giving the server a day to create
-- the next partitions; an empty database's ends now, and the server creates
-- the next ones before it serves. Partition names carry their bounds in unix
-- seconds: webhook_logs_p<from>_<to>.
DO $$
DECLARE
  upper_s BIGINT;
  hex TEXT;
  bound UUID;
BEGIN
  IF EXISTS (SELECT 1 FROM webhook_logs_legacy) THEN
    upper_s := extract(epoch FROM date_trunc('day', now(), 'UTC') + interval '1 day')::BIGINT;
  ELSE
    upper_s := extract(epoch FROM now())::BIGINT;
  END IF;
  hex := lpad(to_hex(upper_s * 1000), 12, '0');
  bound := (substr(hex, 1, 8) || '-' || substr(hex, 9, 4) || '-7000-8000-000000000000')::UUID;
  EXECUTE format('ALTER TABLE webhook_logs ATTACH PARTITION webhook_logs_legacy
                  FOR VALUES FROM (MINVALUE) TO (%L)', bound);
  EXECUTE format('ALTER TABLE webhook_attempts ATTACH PARTITION webhook_attempts_legacy
                  FOR VALUES FROM (MINVALUE) TO (%L)', bound);
  EXECUTE format('ALTER TABLE webhook_logs_legacy RENAME TO %I', 'webhook_logs_p0_' || upper_s);
  EXECUTE format('ALTER TABLE webhook_attempts_legacy RENAME TO %I',
                 'webhook_attempts_p0_' || upper_s);
END $$;

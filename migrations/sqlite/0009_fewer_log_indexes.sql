-- Every event is written twice (accepted, then delivered) and each write
-- touches every index of webhook_logs: two that 0008's indexes already cover
-- cost ingest throughput and serve no query alone.
-- (provider, client_id) is answered by (client_id, provider, created_at) and
-- (client_id, provider, seq); (status) by (status, created_at).
DROP INDEX IF EXISTS idx_webhook_logs_provider_client;
DROP INDEX IF EXISTS idx_webhook_logs_status;

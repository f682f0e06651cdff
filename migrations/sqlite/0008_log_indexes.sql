-- The operator's log list reads newest first, usually for one tenant or one
-- status: these let it walk an index instead of sorting the table.
CREATE INDEX idx_webhook_logs_tenant_recent ON webhook_logs (client_id, provider, created_at DESC);
CREATE INDEX idx_webhook_logs_status_recent ON webhook_logs (status, created_at DESC);

-- When a failed event of the tenant was last put back by hand. The instance
-- that delivers the tenant may not be the one that took the request; its
-- lease heartbeat reads this and refills the tenant's queue from the store,
-- where the requeued event (older than what it has seen) waits.
ALTER TABLE webhooks ADD COLUMN requeued_at TIMESTAMPTZ;

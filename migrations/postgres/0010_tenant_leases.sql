-- Delivery leases: for each tenant, the instance that delivers its events
-- (owner) until expires_at, renewed by that instance's heartbeat. token fences
-- a holder that lost its lease: attempts recorded under an older token are
-- ignored. Tokens come from one sequence, so none is ever reused, even for a
-- tenant whose lease was released and taken again.
CREATE SEQUENCE tenant_lease_tokens;
CREATE TABLE tenant_leases (
  client_id VARCHAR(255) NOT NULL,
  provider VARCHAR(50) NOT NULL,
  owner UUID NOT NULL,
  token BIGINT NOT NULL,
  expires_at TIMESTAMPTZ NOT NULL,
  PRIMARY KEY (client_id, provider)
);
CREATE INDEX idx_tenant_leases_owner ON tenant_leases (owner);

-- Envelopes become a durable inbox: the bot saves each envelope before it acks it, so a command
-- acknowledged by a replica that then crashed is picked up by another (or by the restarted one).
ALTER TABLE envelopes ADD COLUMN kind TEXT NOT NULL DEFAULT '';
ALTER TABLE envelopes ADD COLUMN payload TEXT NOT NULL DEFAULT '';
ALTER TABLE envelopes ADD COLUMN owner TEXT NOT NULL DEFAULT '';
ALTER TABLE envelopes ADD COLUMN lease_until BIGINT NOT NULL DEFAULT 0;
ALTER TABLE envelopes ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE envelopes ADD COLUMN done_at BIGINT;
CREATE INDEX envelopes_pending ON envelopes (lease_until) WHERE done_at IS NULL;

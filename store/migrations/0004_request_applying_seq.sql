-- A request remembers the audit record's last seq when it was claimed for applying, so that
-- settling it later can tell the changes recorded after its write went out by seq: an entry's
-- time can be earlier than the claim's though it was appended after it (another replica's clock).
-- NULL for requests claimed before this was kept, and for those never claimed.
ALTER TABLE requests ADD COLUMN applying_seq BIGINT;

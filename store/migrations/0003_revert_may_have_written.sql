-- A revert remembers that an attempt's write may have landed unseen (Astro's answer was lost), so
-- that the next attempt, finding the role put back, reports the revert as done by the bot rather
-- than as having had nothing to do.
ALTER TABLE reverts ADD COLUMN may_have_written INTEGER NOT NULL DEFAULT 0;

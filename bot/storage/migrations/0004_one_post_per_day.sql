-- A server gets at most one daily post per local day, whichever channel it is set to: the claim's transaction
-- checks this, and from here the schema enforces it too, so no future writer can post a day twice by moving
-- the schedule to another channel. The old (guild, date) index is covered by the new unique one.
CREATE UNIQUE INDEX daily_posts_one_per_day ON daily_posts (guild_id, local_date);
DROP INDEX daily_posts_by_guild_date;

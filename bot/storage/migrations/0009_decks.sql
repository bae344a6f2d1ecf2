-- 0009 (h-decks): servers with collections of their own (cards/servers/<id>/) and when the bot left them, so that
-- their collections are kept for a grace period and then archived out of the library.
CREATE TABLE server_decks (
    guild_id    BIGINT  PRIMARY KEY,
    -- When the bot was removed from the server (ms since the epoch); NULL while it is in it.
    left_at_ms  BIGINT,
    -- When its collections were archived (ms since the epoch); NULL while they are served.
    archived_ms BIGINT
);

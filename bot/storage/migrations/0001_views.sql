-- 0001: key/value metadata and the view log.
--
-- Ids: Discord snowflakes are stored as INTEGER (SQLite: signed 64-bit). Snowflakes stay below 2^63 until
-- 2084, so they fit; the Python side rejects anything outside 0 <= id < 2^63. NULL guild_id = a DM.
-- Times: at_ms is Unix time in milliseconds, UTC.

CREATE TABLE meta (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_ms INTEGER NOT NULL
) WITHOUT ROWID;

-- One row per card shown. Append-only; written in batches by ViewLog.
CREATE TABLE views (
    id         INTEGER PRIMARY KEY,
    card_id    TEXT    NOT NULL,
    guild_id   INTEGER,
    channel_id INTEGER,
    user_id    INTEGER,
    command    TEXT    NOT NULL,
    at_ms      INTEGER NOT NULL
);

-- count(card_id, guild_id), counts([...]), views_by_card() overall (covering).
CREATE INDEX views_by_card_guild ON views (card_id, guild_id);
-- seen_in_guild(guild_id), views_by_card(guild_id) (covering), stats(guild_id).
CREATE INDEX views_by_guild_card ON views (guild_id, card_id);
-- seen_by_user(user_id[, guild_id]) (covering).
CREATE INDEX views_by_user_guild_card ON views (user_id, guild_id, card_id);
-- per-day counts over the last days.
CREATE INDEX views_by_time ON views (at_ms);

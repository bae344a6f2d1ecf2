-- 0002: the moderators' audit log.
--
-- action is one of add, edit, remove, import, reload (checked in Python, so that a new action needs no table
-- rebuild). before_json/after_json hold the card or collection as a JSON object, NULL when absent.
-- Ids are snowflakes as INTEGER (see 0001); at_ms is Unix time in milliseconds, UTC.

CREATE TABLE audit_log (
    id             INTEGER PRIMARY KEY,
    at_ms          INTEGER NOT NULL,
    action         TEXT    NOT NULL,
    card_id        TEXT,
    collection_id  TEXT,
    guild_id       INTEGER,
    moderator_id   INTEGER,
    moderator_name TEXT,
    before_json    TEXT,
    after_json     TEXT,
    detail         TEXT
);

-- history(card_id): newest first (id order = insertion order).
CREATE INDEX audit_by_card ON audit_log (card_id, id);
-- recent(guild_id).
CREATE INDEX audit_by_guild ON audit_log (guild_id, id);

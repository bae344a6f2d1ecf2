-- 0008 (h-insights): readers' problem reports on cards, and searches that found nothing.
-- Portable SQL (SQLite and PostgreSQL): ids are snowflakes as BIGINT, *_ms are Unix milliseconds UTC, days are
-- UTC day numbers (days since 1970-01-01). guild_id 0 stands for a direct message (so the unique keys hold there).

-- One row per (card, server, member): a member reporting the same card again updates their row.
-- status: open | fixed | dismissed. card_digest is the card's text digest when it was reported (a card edited
-- since then makes the report "possibly stale"); the card may no longer exist (the row stays).
CREATE TABLE reports (
    id            INTEGER PRIMARY KEY,
    card_id       TEXT    NOT NULL,
    collection_id TEXT,
    guild_id      BIGINT  NOT NULL,
    reporter_id   BIGINT  NOT NULL,
    reporter_name TEXT    NOT NULL,
    kind          TEXT    NOT NULL,
    text          TEXT    NOT NULL,
    card_digest   TEXT    NOT NULL,
    status        TEXT    NOT NULL DEFAULT 'open',
    created_ms    BIGINT  NOT NULL,
    updated_ms    BIGINT  NOT NULL,
    resolved_ms   BIGINT,
    resolved_by   BIGINT,
    resolver_name TEXT,
    resolution    TEXT,
    audit_id      BIGINT,
    UNIQUE (card_id, guild_id, reporter_id)
);
CREATE INDEX reports_status ON reports (status, card_id);

-- Searches that found nothing (or nothing good), counted per normalised query, server and UTC day; no user id.
-- Rows older than the retention (insights.search_retention_days) are dropped.
CREATE TABLE failed_searches (
    day      INTEGER NOT NULL,
    guild_id BIGINT  NOT NULL,
    query    TEXT    NOT NULL,
    kind     TEXT    NOT NULL,
    count    INTEGER NOT NULL,
    PRIMARY KEY (day, guild_id, query, kind)
);

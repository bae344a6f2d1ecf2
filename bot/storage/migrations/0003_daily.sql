-- 0003: daily facts: one schedule per guild, one row per (guild, channel, local day), the card rotation.
--
-- Ids are snowflakes as INTEGER (see 0001); *_ms columns are Unix time in milliseconds, UTC. local_date is the
-- ISO date (YYYY-MM-DD) in the schedule's zone; post_time is HH:MM local; zone is an IANA name.

CREATE TABLE daily_schedules (
    guild_id      INTEGER PRIMARY KEY,
    channel_id    INTEGER NOT NULL,
    post_time     TEXT    NOT NULL CHECK (post_time GLOB '[0-2][0-9]:[0-5][0-9]'),
    zone          TEXT    NOT NULL,
    topic         TEXT,
    collection    TEXT,
    enabled       INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    -- Set when consecutive failures paused the schedule; cleared by /daily set.
    paused_reason TEXT,
    last_error    TEXT,
    last_error_ms INTEGER,
    -- Consecutive permanent failures; reset by a successful post.
    failures      INTEGER NOT NULL DEFAULT 0 CHECK (failures >= 0),
    -- When the schedule was last set or re-enabled: days whose post time is earlier are not owed a post.
    active_from_ms INTEGER NOT NULL,
    created_ms    INTEGER NOT NULL,
    updated_ms    INTEGER NOT NULL
);

-- One row per (guild, channel, local day) that was decided: the UNIQUE constraint plus INSERT ... ON CONFLICT
-- DO NOTHING decide who posts. A row is claimed BEFORE sending and marked sent after.
--   claimed: a sender holds the slot and is posting (claim_token identifies it)
--   retry:   a transient failure released the claim; retried at retry_ms with the same card
--   sent:    posted; message_id set
--   skipped: never attempted (the bot was offline too long); reason says why
--   failed:  permanent failure, or transient failures until the deadline; reason says why
--   unknown: claimed but never confirmed (crash mid-send); may or may not be posted; never resent
CREATE TABLE daily_posts (
    id          INTEGER PRIMARY KEY,
    guild_id    INTEGER NOT NULL,
    channel_id  INTEGER NOT NULL,
    local_date  TEXT    NOT NULL,
    state       TEXT    NOT NULL
                CHECK (state IN ('claimed', 'retry', 'sent', 'skipped', 'failed', 'unknown')),
    card_id     TEXT,
    cycle       INTEGER,
    due_ms      INTEGER NOT NULL,
    -- The last moment a late post or a retry may go out (catch-up window, same local day).
    deadline_ms INTEGER NOT NULL,
    claim_token TEXT,
    claimed_ms  INTEGER,
    attempts    INTEGER NOT NULL DEFAULT 0,
    retry_ms    INTEGER,
    message_id  INTEGER,
    sent_ms     INTEGER,
    reason      TEXT,
    updated_ms  INTEGER NOT NULL,
    UNIQUE (guild_id, channel_id, local_date)
);

-- posts_on(guild, dates), last_sent(guild), problems(guild).
CREATE INDEX daily_posts_by_guild_date ON daily_posts (guild_id, local_date);
-- pending(), expire_claims().
CREATE INDEX daily_posts_pending ON daily_posts (state) WHERE state IN ('claimed', 'retry');

-- The cards posted in each rotation cycle of a guild: a card comes back only in a later cycle.
CREATE TABLE daily_rotation (
    guild_id   INTEGER NOT NULL,
    cycle      INTEGER NOT NULL,
    card_id    TEXT    NOT NULL,
    local_date TEXT    NOT NULL,
    PRIMARY KEY (guild_id, cycle, card_id)
) WITHOUT ROWID;

-- The last card posted (rotation_state), and removal of a failed day's card.
CREATE INDEX daily_rotation_by_date ON daily_rotation (guild_id, local_date);

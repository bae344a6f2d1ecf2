-- 0006 (h-study): study mode. Only members who answered a study question or ran a review have rows here;
-- /study forget deletes every row of a member. Ids are snowflakes as INTEGER, *_ms are Unix milliseconds UTC.

-- Each member's spaced-repetition state per card: py-fsrs's Card as its own JSON, with its due time pulled out
-- for the due-cards query, and the answer the state was learned for (a changed answer starts the card afresh).
CREATE TABLE study_states (
    user_id    INTEGER NOT NULL,
    card_id    TEXT    NOT NULL,
    state      TEXT    NOT NULL,
    due_ms     INTEGER NOT NULL,
    answer_key TEXT    NOT NULL,
    reviews    INTEGER NOT NULL DEFAULT 0,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (user_id, card_id)
) WITHOUT ROWID;

-- due(user, now): one range scan of one member's rows in due order.
CREATE INDEX study_states_due ON study_states (user_id, due_ms);

-- Every answer and review: the review log (rating 1..4 as py-fsrs's Rating; correct 0/1).
CREATE TABLE study_reviews (
    id       INTEGER PRIMARY KEY,
    user_id  INTEGER NOT NULL,
    guild_id INTEGER,
    card_id  TEXT    NOT NULL,
    rating   INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 4),
    correct  INTEGER NOT NULL CHECK (correct IN (0, 1)),
    source   TEXT    NOT NULL CHECK (source IN ('session', 'review')),
    at_ms    INTEGER NOT NULL
);

CREATE INDEX study_reviews_by_user ON study_reviews (user_id, at_ms);
CREATE INDEX study_reviews_by_guild ON study_reviews (guild_id, at_ms);

-- The group session running in a channel (at most one), as the session's own JSON, so a restart resumes it.
CREATE TABLE study_sessions (
    channel_id INTEGER PRIMARY KEY,
    guild_id   INTEGER NOT NULL,
    state      TEXT    NOT NULL,
    updated_ms INTEGER NOT NULL
);

-- A member's settings: opt-in streaks in their own time zone.
CREATE TABLE study_members (
    user_id    INTEGER PRIMARY KEY,
    streak     INTEGER NOT NULL DEFAULT 0 CHECK (streak IN (0, 1)),
    zone       TEXT    NOT NULL DEFAULT 'UTC',
    updated_ms INTEGER NOT NULL
);

-- Exam dates per member and topic (topic as its topic_key).
CREATE TABLE study_exams (
    user_id    INTEGER NOT NULL,
    topic      TEXT    NOT NULL,
    exam_date  TEXT    NOT NULL,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (user_id, topic)
) WITHOUT ROWID;

-- A server's exam dates (set by a moderator): every member who studies in that server gets the plan.
CREATE TABLE study_guild_exams (
    guild_id   INTEGER NOT NULL,
    topic      TEXT    NOT NULL,
    exam_date  TEXT    NOT NULL,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (guild_id, topic)
) WITHOUT ROWID;

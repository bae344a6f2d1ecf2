-- 0005: card ids are never reused, and every moderator write is recorded before its file is.
--
-- card_id_marks: per id prefix (a collection's new cards are <prefix>-NNN), the highest number ever given out,
-- so removing the highest-numbered card and adding one never hands the removed card's id (with its views and
-- history) to the new card.
-- audit_log.state: 'pending' while its write is under way (the row is written before the file), 'done' once the
-- file is written and served, 'not written' when the write was refused or undone. A start finds every pending row
-- and completes it if the file holds the change, or marks it 'not written' if not.

CREATE TABLE card_id_marks (
    prefix      TEXT    PRIMARY KEY,
    last_number INTEGER NOT NULL
) WITHOUT ROWID;

ALTER TABLE audit_log ADD COLUMN state TEXT NOT NULL DEFAULT 'done';

CREATE INDEX audit_pending ON audit_log (state) WHERE state <> 'done';

-- 0007 (h-dailyq): a daily schedule posts the day's card as a fact (as before) or as a question whose answer a
-- button reveals. Every schedule that existed before this migration keeps posting facts.
ALTER TABLE daily_schedules ADD COLUMN mode TEXT NOT NULL DEFAULT 'fact' CHECK (mode IN ('fact', 'question'));

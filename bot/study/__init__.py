"""Study mode: questions derived from the cards, group quiz sessions, and spaced repetition per member (FSRS).

No Discord here: :mod:`bot.study.questions` derives the prompts, :mod:`bot.study.srs` wraps py-fsrs with an
injected clock, :mod:`bot.study.session` is the group session state machine, :mod:`bot.study.recorder` batches
answers into storage, :mod:`bot.study.exam` plans reviews before an exam and :mod:`bot.study.chart` draws the
progress picture. Import from the modules directly.
"""

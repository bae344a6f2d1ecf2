"""Study mode: questions derived from the cards (:mod:`bot.study.questions`), for group quizzes and reviews."""

from bot.study.questions import Kind, Question, answer_matches, questions_for

__all__ = ["Kind", "Question", "answer_matches", "questions_for"]

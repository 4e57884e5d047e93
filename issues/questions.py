"""A category's extra questions: checking answers, and showing them.

One home for the rules every way in shares (the report form, the staff forms, Open311):
a required question must be answered, a number is a number, a date a date, a list answer
one of the list's keys. Answers are stored on the issue as ``{code: value}``: text and
numbers as strings, a date as ISO 8601 with its offset, a multi-choice as a list of keys.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal, InvalidOperation

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from .models import CategoryQuestion

Datatype = CategoryQuestion.Datatype
MAX_ANSWER_LENGTH = 2000


class AnswerError(ValueError):
    def __init__(self, question: CategoryQuestion, message: str):
        super().__init__(message)
        self.question = question
        self.message = message


def questions_of(category) -> list[CategoryQuestion]:
    return list(category.questions.all()) if category is not None else []


def _one(question: CategoryQuestion, value: str):
    if len(value) > MAX_ANSWER_LENGTH:
        raise AnswerError(question, _("The answer to “%(q)s” is too long.") % {"q": question.label})
    if question.datatype == Datatype.NUMBER:
        try:
            number = Decimal(value)
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite():
            raise AnswerError(question, _("“%(q)s” needs a number.") % {"q": question.label})
        return str(number)
    if question.datatype == Datatype.DATETIME:
        try:
            moment = parse_datetime(value)
        except ValueError:
            moment = None
        if moment is None:
            raise AnswerError(question, _("“%(q)s” needs a date and time.") % {"q": question.label})
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment)
        return moment.isoformat()
    if question.datatype in CategoryQuestion.LIST_TYPES:
        keys = {key for key, _label in question.choice_list}
        if value not in keys:
            raise AnswerError(
                question,
                _("“%(value)s” is not a choice of “%(q)s”.")
                % {"value": value, "q": question.label},
            )
    return value


def clean_answers(
    questions: Iterable[CategoryQuestion], values_of: Callable[[CategoryQuestion], list[str]]
) -> dict:
    """``{code: value}`` for the answered questions; raises ``AnswerError`` for the first
    question answered wrongly or left out while required. ``values_of`` gives the raw
    strings sent for a question (empty strings count as no answer)."""
    answers = {}
    for question in questions:
        raw = [v.strip() for v in values_of(question) if v is not None and str(v).strip()]
        if not raw:
            if question.required:
                raise AnswerError(
                    question, _("Answer the question “%(q)s”.") % {"q": question.label}
                )
            continue
        if question.datatype == Datatype.MULTIVALUELIST:
            answers[question.code] = [_one(question, v) for v in dict.fromkeys(raw)]
        else:
            answers[question.code] = _one(question, raw[0])
    return answers


def answer_rows(issue) -> list[tuple[str, str]]:
    """[(question, answer as shown)] for an issue's stored answers, in question order."""
    if not issue.answers:
        return []
    rows = []
    for question in questions_of(issue.category):
        if question.code not in issue.answers:
            continue
        value = issue.answers[question.code]
        labels = dict(question.choice_list)
        values = value if isinstance(value, list) else [value]
        rows.append((question.label, "、".join(labels.get(v, v) for v in values)))
    return rows

"""The category's extra questions on the filing forms (resident report, patrol, hotline).

Every active category's questions are in the form, each group labelled with its category,
so the form works without JavaScript; only the chosen category's answers are checked and
kept (``issues.questions`` holds the rules, shared with Open311).
"""

from django import forms
from django.utils.translation import gettext as _

from config.widgets import PlainSelect

from .. import choices
from ..models import CategoryQuestion
from ..questions import AnswerError, clean_answers

Datatype = CategoryQuestion.Datatype


def field_name(question: CategoryQuestion) -> str:
    return f"q_{question.category_id}_{question.code}"


def _field(question: CategoryQuestion) -> forms.Field:
    label = f"{question.category.name} · {question.label}"
    common = {"label": label, "required": False}
    attrs = {"data-category": str(question.category_id)}
    if question.datatype == Datatype.SINGLEVALUELIST:
        return forms.ChoiceField(
            choices=[("", "—"), *question.choice_list],
            widget=PlainSelect(attrs=attrs),
            **common,
        )
    if question.datatype == Datatype.MULTIVALUELIST:
        return forms.MultipleChoiceField(
            choices=question.choice_list, widget=forms.CheckboxSelectMultiple(attrs=attrs), **common
        )
    if question.datatype == Datatype.TEXT:
        widget = forms.Textarea(attrs={**attrs, "rows": 2})
    elif question.datatype == Datatype.NUMBER:
        widget = forms.TextInput(attrs={**attrs, "inputmode": "decimal"})
    elif question.datatype == Datatype.DATETIME:
        widget = forms.DateTimeInput(attrs={**attrs, "type": "datetime-local"})
    else:
        widget = forms.TextInput(attrs=attrs)
    help_text = _("Required for this category.") if question.required else ""
    return forms.CharField(widget=widget, help_text=help_text, max_length=2000, **common)


class CategoryQuestionsMixin:
    """Adds the question fields; ``cleaned_data["answers"]`` holds the chosen category's."""

    def add_question_fields(self) -> None:
        self.category_questions = choices.category_questions()
        for question in self.category_questions:
            self.fields[field_name(question)] = _field(question)

    @property
    def question_fields(self):
        return [self[field_name(q)] for q in self.category_questions]

    def clean_question_answers(self, category) -> None:
        chosen = [q for q in self.category_questions if category and q.category_id == category.pk]

        def values_of(question):
            value = self.cleaned_data.get(field_name(question))
            return value if isinstance(value, list) else [value or ""]

        try:
            self.cleaned_data["answers"] = clean_answers(chosen, values_of)
        except AnswerError as exc:
            self.add_error(field_name(exc.question), forms.ValidationError(exc.message))
